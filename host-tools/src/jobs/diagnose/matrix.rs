//! The confusion matrix: every fault of the catalogue (alone, and some pairs) injected into a
//! healthy card, diagnosed, and the verdict compared with the cause the fault stands for.

use file_structures::layout::Layout;
use file_structures::personalise::IssuerKeys;
use serde::Serialize;

use super::{diagnose, Cause, Day, Options};
use crate::transport::faults::{faulty_card, FaultError, FaultKind, MATRIX_TODAY};

/// The cause a fault stands for.
pub fn cause_of(kind: FaultKind) -> Cause {
    match kind {
        FaultKind::Mute | FaultKind::GarbageAtr | FaultKind::BadTck | FaultKind::NoDiagnosis => {
            Cause::DeadChip
        }
        FaultKind::MemoryFailure | FaultKind::Corrupted | FaultKind::Torn => Cause::MemoryDamaged,
        FaultKind::Loss | FaultKind::Slow => Cause::UnstableContact,
        FaultKind::PinBlocked => Cause::PinBlocked,
        FaultKind::AppBlocked => Cause::ApplicationBlocked,
        FaultKind::Expired => Cause::Expired,
        FaultKind::NotActivated => Cause::NotActivated,
        FaultKind::Inconsistent | FaultKind::BadCheckDigit => Cause::DataError,
    }
}

/// The cause expected for several faults at once: the most serious (the verdict's order);
/// a card without faults is healthy.
pub fn expected(faults: &[FaultKind]) -> Cause {
    faults
        .iter()
        .map(|&k| cause_of(k))
        .min()
        .unwrap_or(Cause::BackOffice)
}

/// The cases: no fault, each fault alone, and pairs that test the order of the rules.
pub fn cases() -> Vec<Vec<FaultKind>> {
    use FaultKind::*;
    let mut cases = vec![Vec::new()];
    cases.extend(FaultKind::ALL.iter().map(|&k| vec![k]));
    cases.extend([
        vec![Mute, PinBlocked],
        vec![NoDiagnosis, Expired],
        vec![Corrupted, Expired],
        vec![MemoryFailure, Loss],
        vec![Loss, PinBlocked],
        vec![Slow, NotActivated],
        vec![AppBlocked, Expired],
        vec![Expired, NotActivated],
        vec![BadCheckDigit, PinBlocked],
        vec![PinBlocked, NotActivated],
        vec![Inconsistent, Torn],
    ]);
    cases
}

/// One row of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub faults: Vec<FaultKind>,
    /// The fault put into the back office's registry (rows of [`run_back_office`]).
    pub back_office: Option<BackOfficeFault>,
    pub expected: Cause,
    pub verdict: Cause,
    pub ok: bool,
}

/// Runs every case in-process on [`MATRIX_TODAY`]; `on_row` sees each row as it is done.
pub fn run(
    layout: &Layout,
    keys: &IssuerKeys,
    on_row: &mut dyn FnMut(&Row),
) -> Result<Vec<Row>, FaultError> {
    let mut options = Options::new(Day::parse(MATRIX_TODAY).unwrap_or_else(Day::today));
    options.layout = Some(layout.clone());
    let mut rows = Vec::new();
    for faults in cases() {
        let card = faulty_card(layout, keys, &faults)?;
        let report = diagnose(Ok(card), &options);
        let expected = expected(&faults);
        let row = Row {
            ok: report.cause == expected,
            verdict: report.cause,
            expected,
            faults,
            back_office: None,
        };
        on_row(&row);
        rows.push(row);
    }
    Ok(rows)
}

/// A fault in the back office's registry, for the card as the card itself says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackOfficeFault {
    /// Reported lost (formally).
    RegistryLost,
    /// Cancelled.
    RegistryCancelled,
    /// Medical insurance suspended for unpaid contributions.
    InsuranceSuspended,
    /// The registry's card identification code differs from the card's.
    DataDiffers,
    /// Online mode with a balance below [`MATRIX_AMOUNT`].
    BalanceLow,
    /// The registry has no record of the card.
    UnknownCard,
}

/// The amount (fen) the back-office rows ask the registry about.
pub const MATRIX_AMOUNT: i64 = 100;

impl BackOfficeFault {
    pub const ALL: [BackOfficeFault; 6] = [
        BackOfficeFault::RegistryLost,
        BackOfficeFault::RegistryCancelled,
        BackOfficeFault::InsuranceSuspended,
        BackOfficeFault::DataDiffers,
        BackOfficeFault::BalanceLow,
        BackOfficeFault::UnknownCard,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BackOfficeFault::RegistryLost => "registry-lost",
            BackOfficeFault::RegistryCancelled => "registry-cancelled",
            BackOfficeFault::InsuranceSuspended => "insurance-suspended",
            BackOfficeFault::DataDiffers => "registry-data-differs",
            BackOfficeFault::BalanceLow => "balance-low",
            BackOfficeFault::UnknownCard => "registry-unknown",
        }
    }

    /// The cause it stands for.
    pub fn cause(self) -> Cause {
        match self {
            BackOfficeFault::RegistryLost => Cause::ReportedLost,
            BackOfficeFault::RegistryCancelled => Cause::Cancelled,
            BackOfficeFault::InsuranceSuspended => Cause::InsuranceSuspended,
            BackOfficeFault::DataDiffers | BackOfficeFault::UnknownCard => {
                Cause::InformationDiffers
            }
            BackOfficeFault::BalanceLow => Cause::BalanceTooLow,
        }
    }
}

/// The back-office cases: a healthy card and a registry that agrees, each registry fault alone,
/// and pairs with chip faults that test the order of the rules.
pub fn back_office_cases() -> Vec<(Vec<FaultKind>, Option<BackOfficeFault>)> {
    use BackOfficeFault::*;
    use FaultKind::*;
    let mut cases = vec![(Vec::new(), None)];
    cases.extend(BackOfficeFault::ALL.iter().map(|&b| (Vec::new(), Some(b))));
    cases.extend([
        (vec![AppBlocked], Some(RegistryLost)),
        (vec![Expired], Some(RegistryCancelled)),
        (vec![PinBlocked], Some(InsuranceSuspended)),
        (vec![BadCheckDigit], Some(DataDiffers)),
        (vec![NotActivated], Some(BalanceLow)),
        (vec![Mute], Some(RegistryLost)),
    ]);
    cases
}

/// Why the back-office rows could not be run.
#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    #[error(transparent)]
    Fault(#[from] FaultError),
    #[error("the registry of the matrix: {0}")]
    Registry(#[from] sscard_platform::PlatformError),
    #[error("the registry of the matrix: {0}")]
    Io(#[from] std::io::Error),
}

/// The back-office rows: each case's card diagnosed, then compared with a registry (a fresh
/// SQLite store in a temporary directory) that holds the card as the card says it is, with the
/// case's fault put into it.
pub fn run_back_office(
    layout: &Layout,
    keys: &IssuerKeys,
    on_row: &mut dyn FnMut(&Row),
) -> Result<Vec<Row>, MatrixError> {
    let mut options = Options::new(Day::parse(MATRIX_TODAY).unwrap_or_else(Day::today));
    options.layout = Some(layout.clone());
    let runtime = sscard_platform::runtime()?;
    let dir = ScratchDir::new()?;
    let mut rows = Vec::new();
    for (n, (faults, back_office)) in back_office_cases().into_iter().enumerate() {
        let card = faulty_card(layout, keys, &faults)?;
        let mut report = diagnose(Ok(card), &options);
        // A card whose number cannot be read: the clerk types the one printed on its face.
        if !report.card.contains_key("card_number") {
            report
                .card
                .insert("card_number".into(), printed_card_number());
        }
        let url = format!("sqlite:{}", dir.0.join(format!("case-{n}.db")).display());
        let answer = runtime.block_on(registry_answer(&url, &report, back_office))?;
        super::registry::compare(&mut report, answer);
        let expected = expected(&faults).min(back_office.map_or(Cause::BackOffice, |b| b.cause()));
        let row = Row {
            ok: report.cause == expected,
            verdict: report.cause,
            expected,
            faults,
            back_office,
        };
        on_row(&row);
        rows.push(row);
    }
    Ok(rows)
}

/// The sample holder's card number, as printed on the card's face.
fn printed_card_number() -> String {
    serde_json::from_str::<serde_json::Value>(file_structures::samples::HOLDER_JSON)
        .ok()
        .and_then(|h| h["card_number"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The registries' directory, removed when the rows are done.
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn new() -> std::io::Result<ScratchDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "sscard-matrix-registry-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)?;
        Ok(ScratchDir(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The registry's answer about the card of `report`, with `fault` put into the registry.
async fn registry_answer(
    url: &str,
    report: &super::Report,
    fault: Option<BackOfficeFault>,
) -> Result<super::registry::RegistryAnswer, sscard_platform::PlatformError> {
    use super::registry::RegistryAnswer;
    use sscard_platform::model::{
        AccountChange, ActivationRequest, CardRegistration, InsuranceChange,
    };
    use sscard_platform::registry::{Action, Actor};
    let Some(number) = report.card.get("card_number").cloned() else {
        return Ok(RegistryAnswer::Unavailable("no card number".into()));
    };
    let store = sscard_platform::Store::open(url).await?;
    let actor = Actor::new("matrix");
    let value = |id: &str| report.card.get(id).cloned().unwrap_or_default();
    // The registry holds the card as issued: what the card says, else the issuer's record.
    let holder: serde_json::Value =
        serde_json::from_str(file_structures::samples::HOLDER_JSON).unwrap_or_default();
    let or_sample = |id: &str| {
        report
            .card
            .get(id)
            .cloned()
            .unwrap_or_else(|| holder[id].as_str().unwrap_or_default().to_owned())
    };
    let digits = |id: &str| {
        or_sample(id)
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
    };
    let mut card_id_code = or_sample("card_id_code");
    if fault == Some(BackOfficeFault::DataDiffers) {
        // The registry's record of the card identification code differs in its last digit.
        let last = if card_id_code.ends_with('0') {
            "1"
        } else {
            "0"
        };
        card_id_code.pop();
        card_id_code.push_str(last);
    }
    if fault != Some(BackOfficeFault::UnknownCard) {
        let registration = CardRegistration {
            card_number: number.clone(),
            card_id_code,
            ssn: or_sample("ssn"),
            name: or_sample("name"),
            issue_date: digits("issue_date"),
            expiry_date: digits("expiry_date"),
            version: "3.0".into(),
            online_mode: false,
            supersedes: None,
        };
        let registered = store.register_cards(&[registration], &actor).await?;
        if let Some(refused) = registered.results.iter().find(|r| r.outcome == "refused") {
            return Err(sscard_platform::PlatformError::refused(
                "matrix-registration",
                refused.detail.clone().unwrap_or_default(),
            ));
        }
        if value(crate::card::info::ACTIVATION_FIELD) == "1" {
            let activation = ActivationRequest {
                date: digits("issue_date"),
                outlet: "MATRIX".into(),
                terminal: "MATRIX".into(),
                card_id_code: None,
                ssn: None,
            };
            store
                .record_activation(&number, &activation, &actor, None)
                .await?;
        }
    }
    match fault {
        Some(BackOfficeFault::RegistryLost) => {
            store
                .change_state(&number, Action::LossFormal, None, &actor, None)
                .await?;
        }
        Some(BackOfficeFault::RegistryCancelled) => {
            store
                .change_state(&number, Action::Cancel, None, &actor, None)
                .await?;
        }
        Some(BackOfficeFault::InsuranceSuspended) => {
            let suspend = InsuranceChange::Suspend {
                since: "20250101".into(),
                reason: "contributions unpaid since 2024-10".into(),
            };
            store
                .change_insurance(&or_sample("ssn"), &suspend, &actor)
                .await?;
        }
        Some(BackOfficeFault::BalanceLow) => {
            let account = AccountChange {
                online_mode: true,
                balance_fen: MATRIX_AMOUNT / 2,
            };
            store.change_account(&number, &account, &actor).await?;
        }
        Some(BackOfficeFault::DataDiffers | BackOfficeFault::UnknownCard) | None => {}
    }
    match store
        .card_status(&number, Some(MATRIX_TODAY), Some(MATRIX_AMOUNT))
        .await
    {
        Ok(status) => Ok(RegistryAnswer::Status(Box::new(status))),
        Err(sscard_platform::PlatformError::UnknownCard(_)) => Ok(RegistryAnswer::Unknown),
        Err(e) => Ok(RegistryAnswer::Unavailable(e.to_string())),
    }
}

/// The matrix as a table for a person.
pub fn render(rows: &[Row]) -> String {
    let name = |c: Cause| {
        serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let mut out = format!("{:<28} {:<20} {:<20} ok\n", "fault", "expected", "verdict");
    for r in rows {
        let mut names: Vec<&str> = r.faults.iter().map(|f| f.name()).collect();
        names.extend(r.back_office.map(BackOfficeFault::name));
        let faults = if names.is_empty() {
            "(none)".to_owned()
        } else {
            names.join(",")
        };
        out.push_str(&format!(
            "{faults:<28} {:<20} {:<20} {}\n",
            name(r.expected),
            name(r.verdict),
            if r.ok { "yes" } else { "NO" }
        ));
    }
    let right = rows.iter().filter(|r| r.ok).count();
    out.push_str(&format!("{right} of {} correct\n", rows.len()));
    out
}
