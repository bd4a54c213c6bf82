//! What the back office's encryption machine (HSM, 持卡库) answers to each Step string of this
//! driver, computed from the issuer master keys (docs/reader-interface.md, "The HSM path"). The
//! tests use it with the TEST keys; an HSM service can answer with it.

use std::sync::atomic::{AtomicU32, Ordering};

use card_os::crypto::purse::{purchase_session_input, session_key, Purchase, TYPE_PURCHASE};
use card_os::crypto::{self, Algorithm, SecretKey};
use file_structures::layout::{self, KeyUsage, Layout};
use file_structures::personalise::IssuerKeys;

use crate::interface::codes::{self, Failure};
use crate::interface::ops::{key_hex, CardInfo};
use crate::interface::text::{list, split_list};
use crate::jobs::settlement::{yuan_to_fen, Amounts, TradeTime};

/// Bytes of a key's cipher block: a cryptogram's length.
pub fn block_len(algorithm: Algorithm) -> usize {
    match algorithm {
        Algorithm::Des3 => 8,
        _ => 16,
    }
}

/// An HSM holding issuer master keys, and the terminal serial it counts for the debits it signs
/// (as a PSAM counts its own in file 0019). The count lives as long as this value: the service
/// keeps no state on disk (docs/reader-interface.md, "The HSM debit").
pub struct Hsm {
    keys: IssuerKeys,
    /// The last terminal serial given to a debit (0: none yet).
    debit_serial: AtomicU32,
}

fn refused(message: impl Into<String>) -> Failure {
    Failure::new(codes::ILLEGAL_DATA, message)
}

fn items(text: &str, count: usize) -> Result<Vec<&str>, Failure> {
    let items = split_list(text).ok_or_else(|| refused("a Step string ends each item with '|'"))?;
    if items.len() != count {
        return Err(refused(format!(
            "the Step string has {} items, not {count}",
            items.len()
        )));
    }
    Ok(items)
}

fn layout_of(algorithm_id: &str) -> Result<Layout, Failure> {
    let version = match algorithm_id {
        "01" => "2.0",
        "03" => "3.0",
        other => {
            return Err(refused(format!(
                "algorithm {other:?} is not 01 (3DES) or 03 (SM4)"
            )))
        }
    };
    layout::national(version).map_err(|e| refused(e.to_string()))
}

fn code_of(hex_text: &str) -> Result<[u8; 16], Failure> {
    key_hex(hex_text, 16, "the card identification code")?
        .try_into()
        .map_err(|_| refused("the card identification code is 16 bytes"))
}

fn crypto_error(e: crypto::Error) -> Failure {
    refused(format!("the computation failed ({e:?})"))
}

impl Hsm {
    pub fn new(keys: IssuerKeys) -> Self {
        Hsm {
            keys,
            debit_serial: AtomicU32::new(0),
        }
    }

    /// The last terminal serial this HSM gave a debit (0 before the first).
    pub fn last_debit_serial(&self) -> u32 {
        self.debit_serial.load(Ordering::SeqCst)
    }

    /// The next terminal serial, counted only once everything else of a request was checked.
    fn next_debit_serial(&self) -> Result<[u8; 4], Failure> {
        self.debit_serial
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_add(1))
            .map(|previous| (previous + 1).to_be_bytes())
            .map_err(|_| refused("the HSM's terminal serial is at its maximum"))
    }

    fn card_key(
        &self,
        layout: &Layout,
        df: &str,
        id: u8,
        code: &[u8; 16],
    ) -> Result<SecretKey, Failure> {
        let spec = layout
            .df(df)
            .and_then(|d| d.keys.iter().find(|k| k.id == id))
            .ok_or_else(|| refused(format!("no key {id:02X} in {df}")))?;
        self.keys
            .card_key(df, id, spec.algorithm, code)
            .map_err(|e| refused(e.to_string()))
    }

    fn key_with_usage(layout: &Layout, df: &str, usage: KeyUsage) -> Result<u8, Failure> {
        layout
            .df(df)
            .and_then(|d| d.keys.iter().find(|k| k.usage == usage))
            .map(|k| k.id)
            .ok_or_else(|| refused(format!("no {} key in {df}", usage.name())))
    }

    /// `<first 8 bytes of E(internal-auth key, factor ‖ original)><original>` in hex.
    fn internal_part(
        &self,
        layout: &Layout,
        code: &[u8; 16],
        factor: &str,
        original: &str,
    ) -> Result<String, Failure> {
        let df = layout.pin.df.clone();
        let id = Self::key_with_usage(layout, &df, KeyUsage::InternalAuth)?;
        let key = self.card_key(layout, &df, id, code)?;
        let mut data = key_hex(factor, 8, "the process factor")?;
        data.extend(key_hex(original, 8, "the original data")?);
        let answer = crypto::internal_authenticate(&key, &data).map_err(crypto_error)?;
        let first = answer.as_bytes().get(..8).unwrap_or_default();
        Ok(format!(
            "{}{}",
            hex::encode_upper(first),
            original.to_ascii_uppercase()
        ))
    }

    /// The pKey for iReadCardBas_HSM_Step2 from Step1's 8 items.
    pub fn read_card_bas(&self, step1: &str) -> Result<String, Failure> {
        let i = items(step1, 8)?;
        let layout = layout_of(i[2])?;
        let code = code_of(i[3])?;
        let internal = self.internal_part(&layout, &code, i[4], i[5])?;
        let external = if i[6].is_empty() {
            String::new()
        } else {
            let key = self.card_key(
                &layout,
                "SSSE",
                crate::interface::ops::bas::PERSONAL_DATA_KEY,
                &code,
            )?;
            let challenge = key_hex(i[6], 8, "the external process factor")?;
            let cryptogram = crypto::external_cryptogram(&key, &challenge).map_err(crypto_error)?;
            hex::encode_upper(cryptogram.as_bytes())
        };
        Ok(list([internal, external]))
    }

    /// The pKey for iReadCard_HSM_Step2 / iWriteCard_HSM_Step2 from Step1's 8 items.
    pub fn files(&self, step1: &str) -> Result<String, Failure> {
        let i = items(step1, 8)?;
        let layout = layout_of(i[2])?;
        let code = code_of(i[3])?;
        let id = key_hex(i[5], 1, "the key id")?[0];
        let key = self.card_key(&layout, i[4], id, &code)?;
        let challenge = key_hex(i[6], 8, "the challenge")?;
        let cryptogram = crypto::external_cryptogram(&key, &challenge).map_err(crypto_error)?;
        Ok(list([hex::encode_upper(cryptogram.as_bytes())]))
    }

    /// The pKey for iReloadPIN_HSM_Step2 / iUnblockPIN_HSM_Step2 from Step1's 6 items.
    pub fn pin_step1(&self, step1: &str) -> Result<String, Failure> {
        let i = items(step1, 6)?;
        let layout = layout_of(i[2])?;
        let code = code_of(i[3])?;
        Ok(list([self.internal_part(&layout, &code, i[4], i[5])?]))
    }

    /// The pKey for iUnblockPIN_HSM_Step3 (the MAC of PIN UNBLOCK) from Step2's 3 items.
    pub fn unblock_step2(&self, algorithm_id: &str, step2: &str) -> Result<String, Failure> {
        let i = items(step2, 3)?;
        let layout = layout_of(algorithm_id)?;
        let code = code_of(i[0])?;
        let id = key_hex(i[1], 1, "the key id")?[0];
        let key = self.card_key(&layout, &layout.pin.df.clone(), id, &code)?;
        let challenge = key_hex(i[2], 8, "the challenge")?;
        let mac = crypto::sm::command_mac(&key, &challenge, [0x84, 0x24, 0x00, id], &[])
            .map_err(crypto_error)?;
        Ok(list([hex::encode_upper(mac)]))
    }

    /// The pKey for iReloadPIN_HSM_Step3 (the one-time session key of the reload key and the
    /// challenge) from Step2's 3 items.
    pub fn reload_step2(&self, algorithm_id: &str, step2: &str) -> Result<String, Failure> {
        let i = items(step2, 3)?;
        let layout = layout_of(algorithm_id)?;
        let code = code_of(i[0])?;
        let id = key_hex(i[1], 1, "the key id")?[0];
        let key = self.card_key(&layout, &layout.pin.df.clone(), id, &code)?;
        let challenge = key_hex(i[2], 8, "the challenge")?;
        let session = crypto::diversify::session_key(&key, &challenge).map_err(crypto_error)?;
        Ok(list([hex::encode_upper(session.expose_bytes())]))
    }

    /// The pKey for iDoDebit_HSM_Step2 (`terminal serial | time | MAC1 |`) from Step1's 8 items
    /// (`alg id | key address | random | purchase serial | amount | type | terminal no. | time |`)
    /// and the caller's pCardInfo, which names the card whose DPK signs: the card's DPK from the
    /// issuer master and the card identification code, the session key over random ‖ purchase
    /// serial ‖ the terminal serial's right 2 bytes, MAC1 over account amount ‖ self-pay ‖ pooled
    /// ‖ type ‖ terminal no. ‖ time. The one amount Step1 carries is the account amount (self-pay
    /// and pooled 0), as the driver's INITIALIZE FOR PURCHASE gave it to the card. Only a key of
    /// the purse DF whose usage is purchase (DPK) signs: a Step1 naming another key is refused.
    pub fn debit(&self, step1: &str, card_info: &str) -> Result<String, Failure> {
        let i = items(step1, 8)?;
        let layout = layout_of(i[0])?;
        let info = CardInfo::parse(card_info)?;
        let code = code_of(&info.code_hex)?;
        let purse = layout
            .purse
            .as_ref()
            .ok_or_else(|| refused("the layout of this algorithm has no purse"))?;
        let settings = purse.settings;
        let df = purse.df.clone();
        let id = key_hex(i[1], 1, "the key address")?[0];
        let spec = layout
            .df(&df)
            .and_then(|d| d.keys.iter().find(|k| k.id == id))
            .ok_or_else(|| refused(format!("no key {id:02X} in {df}")))?;
        if spec.usage != KeyUsage::PursePurchase {
            return Err(refused(format!(
                "key {id:02X} of {df} is not the purchase key (DPK): the HSM signs debits with DPK only"
            )));
        }
        let random: [u8; 4] = key_hex(i[2], 4, "the random")?
            .try_into()
            .map_err(|_| refused("the random is 4 bytes"))?;
        let serial: [u8; 2] = key_hex(i[3], 2, "the purchase serial")?
            .try_into()
            .map_err(|_| refused("the purchase serial is 2 bytes"))?;
        let account = yuan_to_fen("the amount", i[4]).map_err(|e| refused(e.to_string()))?;
        let amounts = Amounts::new(account, 0, 0).map_err(|e| refused(e.to_string()))?;
        let kind = key_hex(i[5], 1, "the type")?[0];
        if kind != settings.type_byte(TYPE_PURCHASE) {
            return Err(refused(format!(
                "the type {kind:02X} is not a purchase ({:02X})",
                settings.type_byte(TYPE_PURCHASE)
            )));
        }
        if i[6].len() != 12 || !i[6].bytes().all(|b| b.is_ascii_digit()) {
            return Err(refused("the terminal number is 12 digits"));
        }
        let terminal_no: [u8; 6] = hex::decode(i[6])
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| refused("the terminal number is 12 digits"))?;
        let time = TradeTime::parse(i[7]).map_err(|e| refused(e.to_string()))?;
        let dpk = self.card_key(&layout, &df, id, &code)?;
        if crate::interface::session::CardSession::algorithm_id(dpk.algorithm()) != i[0] {
            return Err(refused("the algorithm id is not the purchase key's"));
        }
        let terminal_serial = self.next_debit_serial()?;
        let session = session_key(
            &dpk,
            &purchase_session_input(&random, u16::from_be_bytes(serial), &terminal_serial),
        )
        .map_err(crypto_error)?;
        let purchase = Purchase {
            amounts: amounts.to_bytes(),
            terminal_no,
            terminal_serial,
            time: time.bytes(),
        };
        let mac1 = purchase.mac1(&session, settings).map_err(crypto_error)?;
        Ok(list([
            hex::encode_upper(terminal_serial),
            time.text(),
            hex::encode_upper(mac1),
        ]))
    }
}
