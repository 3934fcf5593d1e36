//! atsvc (MS-TSCH 3.2.5.2, interface 1ff70682-0a51-30e8-076d-740be8cee98b): NetrJobAdd.
//!
//! `NetrJobAdd([in, string, unique] ATSVC_HANDLE ServerName, [in] LPAT_INFO pAtInfo,
//! [out] LPDWORD pJobId)`, with `AT_INFO { DWORD_PTR JobTime; DWORD DaysOfMonth;
//! UCHAR DaysOfWeek; UCHAR Flags; [string] wchar_t* Command; }` (2.3.4). `pAtInfo` is a
//! top-level [ref] pointer, so the structure is inline; `Command` is embedded, so its
//! string follows the structure. `DWORD_PTR` is 4 bytes in NDR 2.0 and 8 in NDR64 (the
//! capture of a real `at.exe` client uses NDR64). `JobTime` counts milliseconds after
//! midnight.

use super::AtJobArgs;
use super::ndr::{NdrError, Reader, Result};

pub const UUID: &str = "1ff70682-0a51-30e8-076d-740be8cee98b";
pub const NETR_JOB_ADD: u16 = 0;

/// Decode NetrJobAdd's request (None for other operations).
pub fn decode_request(opnum: u16, r: &mut Reader<'_>) -> Option<Result<AtJobArgs>> {
    (opnum == NETR_JOB_ADD).then(|| job_add(r))
}

fn job_add(r: &mut Reader<'_>) -> Result<AtJobArgs> {
    let server_name = r.unique_string(true)?;
    // DWORD_PTR: 4 bytes in NDR 2.0, 8 in NDR64; milliseconds fit in 32 bits.
    let job_time = u32::try_from(r.dword_ptr()?)
        .map_err(|_| NdrError::Bad(r.pos(), "JobTime beyond a day"))?;
    let days_of_month = r.u32()?;
    let days_of_week = r.u8()?;
    let flags = r.u8()?;
    let cmd_ptr = r.pointer()?;
    if cmd_ptr == 0 {
        // [string] without [unique]: the pointer is [ref] (pointer_default) and never null.
        return Err(NdrError::Bad(r.pos(), "null Command"));
    }
    let command = r.wstring()?;
    let secs = job_time / 1000;
    Ok(AtJobArgs {
        server_name,
        command,
        job_time,
        job_time_hhmm: format!("{:02}:{:02}", secs / 3600, (secs / 60) % 60),
        days_of_month,
        days_of_week,
        flags,
        flags_names: flag_names(flags),
    })
}

/// AT_INFO Flags bits (MS-TSCH 2.3.4).
fn flag_names(f: u8) -> Vec<&'static str> {
    const BITS: [(u32, &str); 5] = [
        (0x01, "run_periodically"),
        (0x02, "exec_error"),
        (0x04, "run_today"),
        (0x08, "add_current_date"),
        (0x10, "noninteractive"),
    ];
    super::bit_names(u32::from(f), &BITS)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::ndr::build::Stub;
    use super::*;

    pub fn job_add_stub(le: bool, server: Option<&str>, cmd: &str) -> Vec<u8> {
        job_add_stub_in(Stub::new(le), server, cmd)
    }

    pub fn job_add_stub_in(mut s: Stub, server: Option<&str>, cmd: &str) -> Vec<u8> {
        s.ustr(true, server)
            .size((13 * 3600 + 37 * 60) * 1000)
            .u32(1 << 4)
            .u8(0x02)
            .u8(0x11)
            .ptr()
            .wstr(cmd);
        s.done()
    }

    #[test]
    fn job_add_both_orders() {
        for le in [true, false] {
            for server in [None, Some("\\\\DC1")] {
                let b = job_add_stub(le, server, "cmd /c whoami > c:\\out.txt");
                let a = decode_request(0, &mut Reader::new(&b, le))
                    .expect("decoder")
                    .expect("decoded");
                assert_eq!(a.command, "cmd /c whoami > c:\\out.txt");
                assert_eq!(a.server_name.as_deref(), server);
                assert_eq!(a.job_time_hhmm, "13:37");
                assert_eq!(a.days_of_month, 16);
                assert_eq!(a.days_of_week, 2);
                assert_eq!(a.flags_names, vec!["run_periodically", "noninteractive"]);
            }
        }
        assert!(decode_request(1, &mut Reader::new(&[], true)).is_none());
    }

    #[test]
    fn job_add_ndr64_both_orders() {
        for le in [true, false] {
            let b = job_add_stub_in(Stub::new64(le), Some("\\\\h"), "calc.exe");
            let a = decode_request(0, &mut Reader::new_ndr64(&b, le))
                .expect("decoder")
                .expect("decoded");
            assert_eq!(a.command, "calc.exe");
            assert_eq!(a.job_time_hhmm, "13:37");
            // The same bytes read as NDR 2.0 do not decode as these values.
            let wrong = decode_request(0, &mut Reader::new(&b, le)).expect("decoder");
            assert!(wrong.map(|a| a.command != "calc.exe").unwrap_or(true));
        }
    }

    #[test]
    fn truncated_and_null_command() {
        let b = job_add_stub(true, Some("x"), "c");
        for n in 0..b.len() {
            assert!(
                decode_request(0, &mut Reader::new(&b[..n], true))
                    .expect("decoder")
                    .is_err()
            );
        }
        let mut s = Stub::new(true);
        s.null().u32(0).u32(0).u8(0).u8(0).null();
        assert!(matches!(
            decode_request(0, &mut Reader::new(&s.done(), true)).expect("decoder"),
            Err(NdrError::Bad(..))
        ));
    }
}
