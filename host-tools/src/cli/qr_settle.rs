//! `sscard settle --qr CODE` and `sscard settle --resume`: paying with an e-card's QR code from
//! the holder's medical account in the back office (docs/settlement.md, "Online mode").

use serde_json::json;

use host_tools::jobs::settlement::online::{
    self, QrPaymentRequest, QrReceipt, QrSettleError, Till,
};
use host_tools::jobs::settlement::{fen_to_yuan, yuan_to_fen, SettleError, SettlementJournal};
use host_tools::screen::escape;
use sscard_platform::ecard::online::OnlineVerification;

use super::output::eprint_line;
use super::settle::SettleArgs;
use super::{CliError, Global, Outcome};

fn platform(global: &Global, args: &SettleArgs) -> Result<sscard_platform::Client, CliError> {
    args.platform
        .client(global.answer_timeout)?
        .ok_or_else(|| CliError::Usage("an online payment needs --platform URL".into()))
}

fn journal(args: &SettleArgs) -> Result<SettlementJournal, CliError> {
    Ok(SettlementJournal::open(&args.terminal.journal).map_err(SettleError::from)?)
}

fn till<'a>(
    args: &SettleArgs,
    platform: &'a sscard_platform::Client,
) -> Result<Till<'a>, CliError> {
    if !sscard_platform::auth::check_terminal_id(&args.terminal_id) {
        return Err(CliError::Usage(format!(
            "--terminal-id {:?}: 1 to 64 of A-Z a-z 0-9 - _ .",
            args.terminal_id
        )));
    }
    Ok(Till {
        platform,
        terminal_id: args.terminal_id.clone(),
    })
}

/// The holder as the back office identified them, for the cashier to compare (on stderr, so
/// stdout stays the receipt).
fn identity_text(v: &OnlineVerification) -> String {
    let mut text = format!(
        "持卡人 holder: {}  社会保障号码 SSN: {}  卡号 card: {}  电子社保卡 e-card: {}",
        v.name, v.ssn, v.card_number, v.ecard
    );
    if let Some(holder) = &v.shown_by {
        text.push_str(&format!(
            "  (a family member's code, shown by e-card {holder})"
        ));
    }
    text
}

/// The receipt of an online payment for the holder.
pub fn receipt_text(r: &QrReceipt) -> String {
    let mut rows = vec![
        ("支付流水 payment", r.payment_id.clone()),
        ("持卡人 holder", r.holder.clone()),
        ("卡号 card number", r.card_number.clone()),
        ("电子社保卡 e-card", r.ecard.clone()),
    ];
    if let Some(holder) = &r.shown_by {
        rows.push(("出示人 shown by", holder.clone()));
    }
    rows.extend([
        ("终端 terminal", r.terminal_id.clone()),
        ("终端交易号 terminal txn", r.terminal_txn_id.clone()),
        ("时间 time", r.paid_at.clone()),
        ("个人账户 account", fen_to_yuan(r.amounts.account)),
        ("个人自付 self-pay", fen_to_yuan(r.amounts.self_pay)),
        (
            "余额 balance",
            fen_to_yuan(u32::try_from(r.balance_after).unwrap_or(u32::MAX)),
        ),
    ]);
    let mut text =
        "医保电子凭证结算回执 / Medical settlement receipt (QR code, online)\n".to_owned();
    for (k, v) in rows {
        text.push_str(&format!("  {k}: {}\n", escape(&v)));
    }
    if r.resumed {
        text.push_str(
            "  (a payment an earlier run sent without an answer was completed; nothing was charged twice)\n",
        );
    }
    text
}

/// `settle --qr CODE --amount YUAN [--self-pay YUAN]`.
pub fn settle_qr(global: &Global, args: &SettleArgs, code: &str) -> Result<Outcome, CliError> {
    let amount = |what, text: &str| yuan_to_fen(what, text).map_err(SettleError::from);
    let request = QrPaymentRequest::new(
        amount("amount", args.amount.as_deref().unwrap_or_default())?,
        amount("self-pay amount", &args.self_pay)?,
        args.terminal.time()?,
    )
    .map_err(QrSettleError::from)?;
    let client = platform(global, args)?;
    let till = till(args, &client)?;
    let mut journal = journal(args)?;
    let mut identity = None;
    let receipt = online::settle_qr(&till, code, &request, &mut journal, &mut |v| {
        if !global.json {
            eprint_line(&identity_text(v));
        }
        identity = Some(v.clone());
    })?;
    Ok(Outcome::new(
        receipt_text(&receipt),
        json!({
            "settled": true,
            "receipt": receipt,
            "identity": identity,
            "journal": args.terminal.journal.display().to_string(),
        }),
    ))
}

/// `settle --resume`: every online payment the journal holds unconfirmed, sent again.
pub fn resume(global: &Global, args: &SettleArgs) -> Result<Outcome, CliError> {
    let client = platform(global, args)?;
    let till = till(args, &client)?;
    let mut journal = journal(args)?;
    let results = online::resume(&till, &mut journal);
    let mut text = String::new();
    let mut receipts = Vec::new();
    let mut failures = Vec::new();
    let mut first_failure = None;
    for result in results {
        match result {
            Ok(receipt) => {
                text.push_str(&receipt_text(&receipt));
                receipts.push(receipt);
            }
            Err(e) => {
                let e = CliError::from(e);
                failures.push(e.to_json());
                first_failure.get_or_insert(e);
            }
        }
    }
    if receipts.is_empty() && failures.is_empty() {
        text.push_str("no unconfirmed online payment in the journal\n");
    }
    let mut outcome = Outcome::new(
        text,
        json!({
            "resumed": receipts,
            "failed": failures,
            "journal": args.terminal.journal.display().to_string(),
        }),
    );
    outcome.failure = first_failure;
    Ok(outcome)
}
