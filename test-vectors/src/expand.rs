//! Access-rule vectors generated from the national layouts: for every EF of every national
//! version, every operation (read, write, admin) and every security state the DF can be put in,
//! one vector that establishes the state and expects what the file's rule in the layout says.
//! The layout is the data; the expectation (`expected`) is written here once, from
//! docs/card-os.md "Access condition byte", independently of the card's own check.

use file_structures::layout::{AccessRule, Condition, Df, Ef, Layout, Structure};

use crate::expr::{parse_pattern, parse_template};
use crate::format::{CardKind, Step, SwPattern, Vector, VectorFile};

/// The generated file's name in reports.
pub const ACCESS_FILE: &str = "access (generated from the layouts)";

const CHANGED_PIN: &str = "654321";

/// The medical insurance application (DF04), subject to the six-month rule.
const MEDICAL_DF: u16 = 0xDF04;

/// A security state the runner can establish in a DF.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    /// The PIN verified after being changed from the initial one.
    pin: bool,
    /// The initial PIN verified (satisfies no `pin` rule: "initial PIN cannot transact").
    pin_initial: bool,
    /// Keys externally authenticated.
    keys: Vec<u8>,
}

impl State {
    fn name(&self) -> String {
        let mut parts = Vec::new();
        if self.pin {
            parts.push("pin".to_string());
        }
        if self.pin_initial {
            parts.push("initial-pin".to_string());
        }
        parts.extend(self.keys.iter().map(|k| format!("key{k:02X}")));
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join("+")
        }
    }
}

/// What the card must answer for `rule` in `state`: `None` = allowed.
fn expected(rule: AccessRule, state: &State) -> Option<&'static str> {
    let key = |k: u8| state.keys.contains(&k);
    let identity = |pin: bool| match rule.condition {
        Condition::Free => true,
        Condition::Never => false,
        Condition::Pin => pin,
        Condition::Key(k) => key(k),
        Condition::PinOrKey(k) => pin || key(k),
        Condition::PinAndKey(k) => pin && key(k),
    };
    if rule.condition == Condition::Free {
        return None;
    }
    if !identity(state.pin) {
        return Some(if state.pin_initial && identity(true) {
            "6984"
        } else {
            "6982"
        });
    }
    // The generated commands carry no MAC.
    rule.secure_messaging.then_some("6987")
}

/// The states worth trying in `df`: nothing, the initial PIN, the PIN, each external-auth key,
/// and the PIN with each key.
fn states(df: &Df) -> Vec<State> {
    let keys: Vec<u8> = df
        .keys
        .iter()
        .filter(|k| k.usage == file_structures::layout::KeyUsage::ExternalAuth)
        .map(|k| k.id)
        .collect();
    let mut states = vec![
        State {
            pin: false,
            pin_initial: false,
            keys: vec![],
        },
        State {
            pin: false,
            pin_initial: true,
            keys: vec![],
        },
        State {
            pin: true,
            pin_initial: false,
            keys: vec![],
        },
    ];
    for k in &keys {
        states.push(State {
            pin: false,
            pin_initial: false,
            keys: vec![*k],
        });
        states.push(State {
            pin: true,
            pin_initial: false,
            keys: vec![*k],
        });
    }
    states
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    Write,
    Admin,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::Admin => "admin",
        }
    }
}

/// Command and the answer when allowed, for `op` on `ef` (SFI addressing, or the current EF
/// after a SELECT when the EF has no SFI).
fn operation(ef: &Ef, op: Op) -> (Vec<String>, String, &'static str, String, AccessRule) {
    let mut setup = Vec::new();
    let sfi = match ef.sfi {
        Some(s) => s,
        None => {
            setup.push(format!("00 A4 02 0C 02 {:04X}", ef.fid));
            0
        }
    };
    let first = ef.fields.first();
    let record_p2 = format!("{:02X}", (sfi << 3) | 4);
    match (op, ef.structure) {
        (Op::Admin, _) => (
            setup,
            format!("00 04 00 00 02 {:04X}", ef.fid),
            "9000",
            String::new(),
            ef.access.admin,
        ),
        (Op::Read, Structure::Transparent { .. }) => (
            setup,
            format!("00 B0 {:02X} 00 08", if sfi == 0 { 0 } else { 0x80 | sfi }),
            "9000",
            "{repeat(00, 8)}".into(),
            ef.access.read,
        ),
        (Op::Write, Structure::Transparent { .. }) => (
            setup,
            format!(
                "00 D6 {:02X} 00 01 00",
                if sfi == 0 { 0 } else { 0x80 | sfi }
            ),
            "9000",
            String::new(),
            ef.access.update,
        ),
        (Op::Read, Structure::LinearVariable { .. }) => match first {
            Some(f) => (
                setup,
                format!("00 B2 01 {record_p2} 00"),
                "9000",
                format!("{{field:{}}}", f.id),
                ef.access.read,
            ),
            None => (
                setup,
                format!("00 B2 01 {record_p2} 00"),
                "6A83",
                String::new(),
                ef.access.read,
            ),
        },
        (Op::Write, Structure::LinearVariable { .. }) => match first {
            Some(f) => (
                setup,
                format!("00 DC 01 {record_p2} {{lc({{field:{}}})}}", f.id),
                "9000",
                String::new(),
                ef.access.update,
            ),
            None => (
                setup,
                format!("00 DC 01 {record_p2} 02 01 00"),
                "6A83",
                String::new(),
                ef.access.update,
            ),
        },
        (Op::Read, Structure::Cyclic { .. }) => (
            setup,
            format!("00 B2 01 {record_p2} 00"),
            "6A83",
            String::new(),
            ef.access.read,
        ),
        (Op::Write, Structure::Cyclic { record_len, .. }) => (
            setup,
            format!(
                "00 E2 00 {:02X} {{lc({{repeat(00, {record_len})}})}}",
                sfi << 3
            ),
            "9000",
            String::new(),
            ef.access.append,
        ),
    }
}

fn rule_text(rule: AccessRule) -> String {
    let base = match rule.condition {
        Condition::Free => "free".to_string(),
        Condition::Never => "never".into(),
        Condition::Pin => "pin".into(),
        Condition::Key(k) => format!("key:{k:02X}"),
        Condition::PinOrKey(k) => format!("pin|key:{k:02X}"),
        Condition::PinAndKey(k) => format!("pin&key:{k:02X}"),
    };
    if rule.secure_messaging {
        format!("{base}+sm")
    } else {
        base
    }
}

fn apdu(text: &str, sw: &str, data: &str) -> Result<Step, String> {
    Ok(Step::Apdu {
        apdu: parse_template(text)?,
        sw: vec![SwPattern::parse(sw)?],
        data: if data.is_empty() {
            None
        } else {
            Some(parse_pattern(data)?)
        },
        capture: None,
    })
}

pub fn vectors_for(layout: &Layout, kind: CardKind) -> Result<Vec<Vector>, String> {
    let mut out = Vec::new();
    for df in &layout.dfs {
        for ef in &df.efs {
            for op in [Op::Read, Op::Write, Op::Admin] {
                for state in states(df) {
                    let (setup, command, ok_sw, ok_data, rule) = operation(ef, op);
                    let refusal = expected(rule, &state);
                    let mut steps = Vec::new();
                    if df.fid == MEDICAL_DF && op == Op::Write {
                        // Record writes in the medical insurance application are refused (9302)
                        // while a card is neither activated nor within six months of issue; the
                        // terminal's date set to the issue date keeps this about access rules.
                        steps.push(apdu("80 DA 00 00 04 {value:issue_date}", "9000", "")?);
                    }
                    steps.push(apdu(&format!("00 A4 00 0C 02 {:04X}", df.fid), "9000", "")?);
                    if state.pin_initial {
                        steps.push(apdu("00 20 00 00 {lc({pin(123456)})}", "9000", "")?);
                    }
                    if state.pin {
                        steps.push(apdu(
                            &format!(
                                "80 5E 01 00 {{lc({{pin(123456)}} FF {{pin({CHANGED_PIN})}})}}"
                            ),
                            "9000",
                            "",
                        )?);
                        steps.push(apdu(
                            &format!("00 20 00 00 {{lc({{pin({CHANGED_PIN})}})}}"),
                            "9000",
                            "",
                        )?);
                    }
                    for k in &state.keys {
                        steps.push(Step::Apdu {
                            apdu: parse_template("00 84 00 00 08")?,
                            sw: vec![SwPattern::parse("9000")?],
                            data: None,
                            capture: Some("challenge".into()),
                        });
                        steps.push(apdu(
                            &format!(
                                "00 82 00 {k:02X} {{lc({{ext_auth({}/{k:02X}, {{challenge}})}})}}",
                                df.name
                            ),
                            "9000",
                            "",
                        )?);
                    }
                    for s in &setup {
                        steps.push(apdu(s, "9000", "")?);
                    }
                    let (sw, data) = match refusal {
                        Some(sw) => (sw, String::new()),
                        None => (ok_sw, ok_data.clone()),
                    };
                    steps.push(apdu(&command, sw, &data)?);
                    let path = format!("{}/{:04X}", df.name, ef.fid);
                    let verdict = match refusal {
                        Some(sw) => format!("refused with {sw}"),
                        None => "allowed".into(),
                    };
                    out.push(Vector {
                        id: format!(
                            "access.{}.{}.{:04X}.{}.{}",
                            kind.layout_version().unwrap_or("?"),
                            df.name,
                            ef.fid,
                            op.name(),
                            state.name()
                        ),
                        requirement: format!(
                            "{path} {} ({}) is {verdict} in security state {}",
                            op.name(),
                            rule_text(rule),
                            state.name()
                        ),
                        reference: format!(
                            "national.toml {path} (version {}); docs/card-os.md access conditions; ssc-card.md Security",
                            layout.version
                        ),
                        card: kind,
                        destructive: state.pin || (op != Op::Read && refusal.is_none()),
                        steps,
                        file: ACCESS_FILE.into(),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The generated access vectors of both national versions.
pub fn access_vectors() -> Result<VectorFile, String> {
    let mut vectors = Vec::new();
    for kind in [CardKind::National20, CardKind::National30] {
        let version = kind.layout_version().unwrap_or("2.0");
        let layout = file_structures::layout::national(version).map_err(|e| e.to_string())?;
        vectors.extend(vectors_for(&layout, kind)?);
    }
    Ok(VectorFile {
        name: ACCESS_FILE.into(),
        title: "access rule of every national file for every operation and security state".into(),
        vectors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(condition: Condition) -> AccessRule {
        AccessRule {
            condition,
            secure_messaging: false,
        }
    }

    #[test]
    fn the_initial_pin_is_told_apart_from_no_pin() {
        let initial = State {
            pin: false,
            pin_initial: true,
            keys: vec![],
        };
        let none = State {
            pin: false,
            pin_initial: false,
            keys: vec![],
        };
        assert_eq!(expected(rule(Condition::Pin), &initial), Some("6984"));
        assert_eq!(expected(rule(Condition::Pin), &none), Some("6982"));
        assert_eq!(expected(rule(Condition::Free), &none), None);
        assert_eq!(
            expected(rule(Condition::PinAndKey(4)), &initial),
            Some("6982")
        );
        let key = State {
            pin: false,
            pin_initial: false,
            keys: vec![4],
        };
        assert_eq!(expected(rule(Condition::PinOrKey(4)), &key), None);
        assert_eq!(expected(rule(Condition::Key(5)), &key), Some("6982"));
        let sm = AccessRule {
            condition: Condition::Key(4),
            secure_messaging: true,
        };
        assert_eq!(expected(sm, &key), Some("6987"));
    }

    #[test]
    fn every_national_file_gets_every_operation_in_every_state() {
        let file = access_vectors().unwrap();
        let layout = file_structures::layout::national("2.0").unwrap();
        let ssse = layout.df("SSSE").unwrap();
        let per_ef = 3 * states(ssse).len();
        let ssse_vectors = file
            .vectors
            .iter()
            .filter(|v| v.id.starts_with("access.2.0.SSSE."))
            .count();
        assert_eq!(ssse_vectors, per_ef * ssse.efs.len());
    }
}
