//! A tiny, tolerant scanner for Task Scheduler XML (MS-TSCH 2.5): just enough to pull the
//! `Exec` actions, the principal and the trigger kinds out of a task definition.
//!
//! It walks tags and text without building a tree; namespaces prefixes are dropped, entity
//! and character references are expanded, comments, processing instructions, DOCTYPE and
//! CDATA are handled. Malformed input never fails: the scan stops where the markup stops
//! making sense and returns what it found so far. Work is linear in the input; the element
//! stack is bounded by [`MAX_STACK`].

/// Element nesting kept (deeper elements are still scanned, their path is cut).
pub const MAX_STACK: usize = 32;
/// Actions and triggers kept.
pub const MAX_ITEMS: usize = 32;

/// One `Exec` action.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExecAction {
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
}

/// What a task definition says about execution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskXml {
    pub actions: Vec<ExecAction>,
    /// Other action kinds (ComHandler, SendEmail, ShowMessage), by element name.
    pub other_actions: Vec<String>,
    pub user_id: Option<String>,
    pub group_id: Option<String>,
    pub logon_type: Option<String>,
    pub run_level: Option<String>,
    /// Element names of the triggers (`TimeTrigger`, `BootTrigger`, ...).
    pub triggers: Vec<String>,
    pub hidden: Option<bool>,
}

/// Scan a task definition.
pub fn scan_task(xml: &str) -> TaskXml {
    let mut t = TaskXml::default();
    let mut stack: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut text = String::new();
    let mut rest = xml;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            text.push_str(&unescape(rest));
            break;
        };
        text.push_str(&unescape(&rest[..lt]));
        rest = &rest[lt..];
        if let Some(r) = rest.strip_prefix("<!--") {
            rest = r.find("-->").map_or("", |i| &r[i + 3..]);
            continue;
        }
        if let Some(r) = rest.strip_prefix("<![CDATA[") {
            let end = r.find("]]>").unwrap_or(r.len());
            text.push_str(&r[..end]);
            rest = r.get(end + 3..).unwrap_or("");
            continue;
        }
        if rest.starts_with("<?") || rest.starts_with("<!") {
            rest = rest.find('>').map_or("", |i| &rest[i + 1..]);
            continue;
        }
        let Some(gt) = tag_end(rest) else { break };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let name = local(name.trim());
            on_close(&mut t, &stack, depth, name, text.trim());
            text.clear();
            depth = depth.saturating_sub(1);
            if depth < stack.len() {
                stack.truncate(depth);
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name = local(tag.split(|c: char| c.is_whitespace()).next().unwrap_or(""));
        text.clear();
        if stack.len() < MAX_STACK && depth == stack.len() {
            stack.push(name.to_string());
        }
        depth += 1;
        on_open(&mut t, &stack, depth, name);
        if self_closing {
            on_close(&mut t, &stack, depth, name, "");
            depth -= 1;
            if depth < stack.len() {
                stack.truncate(depth);
            }
        }
    }
    t
}

/// Index of the `>` closing the tag at the start of `s`, skipping quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            (None, '<') => return None,
            _ => {}
        }
    }
    None
}

/// Element name without its namespace prefix.
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// The element names from the root to the current element (cut at [`MAX_STACK`]).
fn parent_is(stack: &[String], depth: usize, parent: &str) -> bool {
    depth >= 2 && depth <= stack.len() && stack[depth - 2] == parent
}

fn on_open(t: &mut TaskXml, stack: &[String], depth: usize, name: &str) {
    if parent_is(stack, depth, "Actions") {
        if name == "Exec" {
            if t.actions.len() < MAX_ITEMS {
                t.actions.push(ExecAction::default());
            }
        } else if t.other_actions.len() < MAX_ITEMS {
            t.other_actions.push(name.to_string());
        }
    }
    if parent_is(stack, depth, "Triggers") && t.triggers.len() < MAX_ITEMS {
        t.triggers.push(name.to_string());
    }
}

fn on_close(t: &mut TaskXml, stack: &[String], depth: usize, name: &str, text: &str) {
    let value = || Some(text.to_string()).filter(|s| !s.is_empty());
    if parent_is(stack, depth, "Exec") && stack.iter().any(|s| s == "Actions") {
        if let Some(a) = t.actions.last_mut() {
            match name {
                "Command" => a.command = text.to_string(),
                "Arguments" => a.arguments = value(),
                "WorkingDirectory" => a.working_directory = value(),
                _ => {}
            }
        }
    } else if parent_is(stack, depth, "Principal") {
        match name {
            "UserId" => t.user_id = t.user_id.take().or_else(value),
            "GroupId" => t.group_id = t.group_id.take().or_else(value),
            "LogonType" => t.logon_type = t.logon_type.take().or_else(value),
            "RunLevel" => t.run_level = t.run_level.take().or_else(value),
            _ => {}
        }
    } else if parent_is(stack, depth, "Settings") && name == "Hidden" {
        t.hidden = Some(text.eq_ignore_ascii_case("true") || text == "1");
    }
}

/// Expand the five predefined entities and character references; anything else is kept.
pub fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find(';').filter(|&e| e <= 12);
        let decoded = end.and_then(|e| {
            let ent = &rest[1..e];
            let c = match ent {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let n = if let Some(h) = ent.strip_prefix("#x").or(ent.strip_prefix("#X")) {
                        u32::from_str_radix(h, 16).ok()
                    } else if let Some(d) = ent.strip_prefix('#') {
                        d.parse().ok()
                    } else {
                        None
                    };
                    n.and_then(char::from_u32)
                }
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape `schtasks /create` and Impacket's atexec send.
    pub const TASK: &str = r#"<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <Triggers>
    <CalendarTrigger>
      <StartBoundary>2015-07-15T20:35:13.2757294</StartBoundary>
      <Enabled>true</Enabled>
      <ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay>
    </CalendarTrigger>
    <BootTrigger/>
  </Triggers>
  <Principals>
    <Principal id="LocalSystem">
      <UserId>S-1-5-18</UserId>
      <RunLevel>HighestAvailable</RunLevel>
    </Principal>
  </Principals>
  <Settings><Hidden>true</Hidden></Settings>
  <!-- <Exec><Command>not this</Command></Exec> -->
  <Actions Context="LocalSystem">
    <Exec>
      <Command>cmd.exe</Command>
      <Arguments>/C whoami &gt; %windir%\Temp\x.tmp 2&gt;&amp;1</Arguments>
    </Exec>
    <ComHandler><ClassId>{0}</ClassId></ComHandler>
    <Exec><Command><![CDATA[C:\a b\c.exe]]></Command><WorkingDirectory>C:\</WorkingDirectory></Exec>
  </Actions>
</Task>"#;

    #[test]
    fn scans_task_definition() {
        let t = scan_task(TASK);
        assert_eq!(t.actions.len(), 2);
        assert_eq!(t.actions[0].command, "cmd.exe");
        assert_eq!(
            t.actions[0].arguments.as_deref(),
            Some("/C whoami > %windir%\\Temp\\x.tmp 2>&1")
        );
        assert_eq!(t.actions[1].command, "C:\\a b\\c.exe");
        assert_eq!(t.actions[1].working_directory.as_deref(), Some("C:\\"));
        assert_eq!(t.other_actions, vec!["ComHandler"]);
        assert_eq!(t.user_id.as_deref(), Some("S-1-5-18"));
        assert_eq!(t.run_level.as_deref(), Some("HighestAvailable"));
        assert_eq!(t.triggers, vec!["CalendarTrigger", "BootTrigger"]);
        assert_eq!(t.hidden, Some(true));
    }

    #[test]
    fn prefixes_and_attributes_with_gt() {
        let x = r#"<t:Task><t:Actions a="x>y"><t:Exec><t:Command>a&#x41;&#66;&bogus;</t:Command></t:Exec></t:Actions></t:Task>"#;
        let t = scan_task(x);
        assert_eq!(t.actions[0].command, "aAB&bogus;");
    }

    #[test]
    fn garbage_never_panics() {
        for x in [
            "",
            "<",
            "<<<>>>",
            "<a",
            "</",
            "<![CDATA[",
            "<!--",
            "&",
            "&#xffffffff;",
            "é<é>é</é>",
        ] {
            let _ = scan_task(x);
        }
        let cut = &TASK[..TASK.find("<Principals>").expect("in TASK")];
        let t = scan_task(cut);
        assert!(t.actions.is_empty());
        assert_eq!(t.triggers, vec!["CalendarTrigger", "BootTrigger"]);
    }
}
