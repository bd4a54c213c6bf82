//! The byte expressions of vector files (docs/test-vectors.md, "Expressions").
//!
//! A template is hex bytes (spaces anywhere between bytes) and `{...}` terms: a captured value
//! `{challenge}`, a holder field `{field:ssn}` (the record `tag len value` as personalised) or
//! `{value:ssn}` (the value alone), or a function `{ext_auth(SSSE/04, {challenge})}`. Arguments
//! are written like templates, except key references (`DF/ID`) and numbers/text. A pattern (an
//! expected answer) also takes `??` for any one byte and a final `*` for anything that follows.
//!
//! Parsing and evaluation are bounded ([`crate::limits`]): the text's length, the nesting depth,
//! the bytes any part evaluates to and the offsets of `date()`. Past a bound the answer is an
//! error naming it, never a panic or an allocation the bound does not cover.

pub use crate::eval_error::EvalError;
use crate::facts::Scope;
use crate::limits::{
    MAX_DATE_DAYS, MAX_DATE_MONTHS, MAX_EXPRESSION_BYTES, MAX_EXPRESSION_CHARS,
    MAX_EXPRESSION_DEPTH,
};
use file_structures::codec::{self, Day, Encoding};

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Byte(u8),
    /// `??`, patterns only.
    Any,
    Capture(String),
    Field {
        id: String,
        value_only: bool,
    },
    Call(Call),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Call {
    function: Function,
    args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Arg {
    Bytes(Vec<Term>),
    Key { df: String, id: u8 },
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bytes,
    Key,
    Text,
}

/// The functions of the expression language, with their argument kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    /// `lc(X)`: the length of X as one byte, then X.
    Lc,
    /// `len(X)`: the length of X as one byte.
    Len,
    /// `pin(123456)`: the PIN as packed BCD padded with F.
    Pin,
    /// `ascii(text)`: the text's bytes.
    Ascii,
    /// `repeat(XX, n)`: X repeated n times.
    Repeat,
    /// `flip(X)`: X with the low bit of its last byte inverted (a wrong MAC or cryptogram).
    Flip,
    /// `ext_auth(KEY, CHALLENGE)`: the EXTERNAL AUTHENTICATE cryptogram.
    ExtAuth,
    /// `int_auth(KEY, DATA)`: the INTERNAL AUTHENTICATE answer.
    IntAuth,
    /// `mac(KEY, CHALLENGE, HEADER, DATA)`: the 4-byte secure-messaging MAC of a command.
    Mac,
    /// `sm(KEY, CHALLENGE, HEADER, DATA)`: the whole command `HEADER Lc DATA MAC`.
    Sm,
    /// `date(DATE, +6m+1d)`: a packed BCD date YYYYMMDD moved on by months (the day clamped to
    /// the month's last) then days, for the six-month rule around a card's own issue date.
    Date,
    /// `purse_debit(DPK, INIT, AMOUNTS, TERMINAL_NO, TERMINAL_SERIAL, TIME)`: the data of DEBIT
    /// FOR PURCHASE (terminal serial ‖ time ‖ MAC1) for the INITIALIZE FOR PURCHASE answer INIT
    /// (docs/settlement.md; default settings).
    PurseDebit,
    /// `purse_debit_answer(DPK, DTK, INIT, AMOUNTS, TERMINAL_NO, TERMINAL_SERIAL, TIME)`: what
    /// DEBIT FOR PURCHASE answers, TAC ‖ MAC2.
    PurseDebitAnswer,
    /// `purse_credit(DLK, INIT, AMOUNT, TERMINAL_NO, TIME)`: the data of CREDIT FOR LOAD (host
    /// time ‖ MAC2) for the INITIALIZE FOR LOAD answer INIT.
    PurseCredit,
    /// `purse_load_tac(DTK, INIT, AMOUNT, TERMINAL_NO, TIME)`: the TAC CREDIT FOR LOAD answers.
    PurseLoadTac,
}

const FUNCTIONS: &[(&str, Function, &[Kind])] = {
    use Kind::{Bytes, Key, Text};
    &[
        ("lc", Function::Lc, &[Bytes]),
        ("len", Function::Len, &[Bytes]),
        ("pin", Function::Pin, &[Text]),
        ("ascii", Function::Ascii, &[Text]),
        ("repeat", Function::Repeat, &[Bytes, Text]),
        ("flip", Function::Flip, &[Bytes]),
        ("ext_auth", Function::ExtAuth, &[Key, Bytes]),
        ("int_auth", Function::IntAuth, &[Key, Bytes]),
        ("mac", Function::Mac, &[Key, Bytes, Bytes, Bytes]),
        ("sm", Function::Sm, &[Key, Bytes, Bytes, Bytes]),
        ("date", Function::Date, &[Bytes, Text]),
        (
            "purse_debit",
            Function::PurseDebit,
            &[Key, Bytes, Bytes, Bytes, Bytes, Bytes],
        ),
        (
            "purse_debit_answer",
            Function::PurseDebitAnswer,
            &[Key, Key, Bytes, Bytes, Bytes, Bytes, Bytes],
        ),
        (
            "purse_credit",
            Function::PurseCredit,
            &[Key, Bytes, Bytes, Bytes, Bytes],
        ),
        (
            "purse_load_tac",
            Function::PurseLoadTac,
            &[Key, Bytes, Bytes, Bytes, Bytes],
        ),
    ]
};

/// A command template: evaluates to bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    terms: Vec<Term>,
    text: String,
}

/// An expected answer: bytes, `??` and an optional open end `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    terms: Vec<Term>,
    open_end: bool,
    text: String,
}

/// A pattern evaluated for one run: `None` bytes match anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub bytes: Vec<Option<u8>>,
    pub open_end: bool,
}

impl Expected {
    /// `None` when `got` matches, else a sentence with the first difference.
    pub fn mismatch(&self, got: &[u8]) -> Option<String> {
        let too_short = got.len() < self.bytes.len();
        let too_long = !self.open_end && got.len() > self.bytes.len();
        if let Some(i) = self
            .bytes
            .iter()
            .zip(got)
            .position(|(e, g)| e.is_some_and(|e| e != *g))
        {
            return Some(format!(
                "data differs at byte {i}: expected {}, got {}",
                self,
                hex::encode_upper(got)
            ));
        }
        if too_short || too_long {
            return Some(format!(
                "expected {} byte(s) of data{} ({}), got {} ({})",
                self.bytes.len(),
                if self.open_end { " or more" } else { "" },
                self,
                got.len(),
                hex::encode_upper(got)
            ));
        }
        None
    }
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.bytes.is_empty() && !self.open_end {
            return f.write_str("no data");
        }
        for b in &self.bytes {
            match b {
                Some(b) => write!(f, "{b:02X}")?,
                None => f.write_str("??")?,
            }
        }
        if self.open_end {
            f.write_str("*")?;
        }
        Ok(())
    }
}

impl Template {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn eval(&self, scope: &Scope<'_>) -> Result<Vec<u8>, EvalError> {
        eval_terms(&self.terms, scope)
    }
}

impl Pattern {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn eval(&self, scope: &Scope<'_>) -> Result<Expected, EvalError> {
        let mut bytes = Vec::new();
        for term in &self.terms {
            match term {
                Term::Any => bytes.push(None),
                other => bytes.extend(
                    eval_terms(std::slice::from_ref(other), scope)?
                        .into_iter()
                        .map(Some),
                ),
            }
            within_output_limit(bytes.len())?;
        }
        Ok(Expected {
            bytes,
            open_end: self.open_end,
        })
    }
}

/// Parses a command template (no `??`, no `*`).
pub fn parse_template(text: &str) -> Result<Template, String> {
    let mut parser = Parser::new(text)?;
    let terms = parser.terms(false)?;
    parser.end()?;
    Ok(Template {
        terms,
        text: text.to_owned(),
    })
}

/// Parses an expected-answer pattern.
pub fn parse_pattern(text: &str) -> Result<Pattern, String> {
    let mut parser = Parser::new(text)?;
    let terms = parser.terms(true)?;
    parser.skip_ws();
    let open_end = parser.eat('*');
    parser.end()?;
    Ok(Pattern {
        terms,
        open_end,
        text: text.to_owned(),
    })
}

struct Parser<'t> {
    text: &'t str,
    chars: Vec<char>,
    at: usize,
    /// How many `{` are open here.
    depth: usize,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str) -> Result<Self, String> {
        let length = text.chars().count();
        if length > MAX_EXPRESSION_CHARS {
            return Err(format!(
                "the expression is {length} characters long, more than the limit of {MAX_EXPRESSION_CHARS}"
            ));
        }
        Ok(Parser {
            text,
            chars: text.chars().collect(),
            at: 0,
            depth: 0,
        })
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn error(&self, message: &str) -> String {
        format!("{message} at character {} of {:?}", self.at + 1, self.text)
    }

    fn end(&mut self) -> Result<(), String> {
        self.skip_ws();
        match self.peek() {
            None => Ok(()),
            Some(c) => Err(self.error(&format!("unexpected {c:?}"))),
        }
    }

    /// Hex bytes, `{...}` terms and (in patterns) `??`, up to the end, `*`, `,` or `)`.
    fn terms(&mut self, pattern: bool) -> Result<Vec<Term>, String> {
        let mut terms = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None | Some('*' | ',' | ')') => return Ok(terms),
                Some('?') if pattern => {
                    self.at += 1;
                    if !self.eat('?') {
                        return Err(self.error("write ?? for any byte"));
                    }
                    terms.push(Term::Any);
                }
                Some('{') => {
                    self.at += 1;
                    terms.push(self.braced()?);
                }
                Some(c) if c.is_ascii_hexdigit() => {
                    let hi = c;
                    self.at += 1;
                    let lo = self
                        .peek()
                        .filter(char::is_ascii_hexdigit)
                        .ok_or_else(|| self.error("a byte needs two adjacent hex digits"))?;
                    self.at += 1;
                    let byte = (hi.to_digit(16).unwrap_or(0) << 4) | lo.to_digit(16).unwrap_or(0);
                    terms.push(Term::Byte(byte as u8));
                }
                Some(c) => return Err(self.error(&format!("{c:?} is not a hex digit or {{"))),
            }
        }
    }

    fn ident(&mut self) -> String {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    /// After `{`: a capture, a field or a call, then `}`.
    fn braced(&mut self) -> Result<Term, String> {
        if self.depth >= MAX_EXPRESSION_DEPTH {
            return Err(self.error(&format!(
                "terms are nested more than {MAX_EXPRESSION_DEPTH} deep, the limit"
            )));
        }
        self.depth += 1;
        let term = self.braced_inner();
        self.depth -= 1;
        term
    }

    fn braced_inner(&mut self) -> Result<Term, String> {
        self.skip_ws();
        let name = self.ident();
        if name.is_empty() {
            return Err(self.error("expected a name after {"));
        }
        let term = if self.eat(':') {
            let id = self.ident();
            match name.as_str() {
                "field" | "value" if !id.is_empty() => Term::Field {
                    id,
                    value_only: name == "value",
                },
                _ => return Err(self.error("write {field:ID} or {value:ID}")),
            }
        } else if self.eat('(') {
            Term::Call(self.call(&name)?)
        } else {
            Term::Capture(name)
        };
        self.skip_ws();
        if !self.eat('}') {
            return Err(self.error("expected }"));
        }
        Ok(term)
    }

    /// After `name(`: the arguments by the function's signature, then `)`.
    fn call(&mut self, name: &str) -> Result<Call, String> {
        let (_, function, kinds) =
            FUNCTIONS
                .iter()
                .find(|(n, _, _)| *n == name)
                .ok_or_else(|| {
                    let names: Vec<_> = FUNCTIONS.iter().map(|(n, _, _)| *n).collect();
                    self.error(&format!(
                        "{name} is not a function (known: {})",
                        names.join(", ")
                    ))
                })?;
        let mut args = Vec::with_capacity(kinds.len());
        for (i, kind) in kinds.iter().enumerate() {
            if i > 0 {
                self.skip_ws();
                if !self.eat(',') {
                    return Err(self.error(&format!("{name} takes {} arguments", kinds.len())));
                }
            }
            self.skip_ws();
            args.push(match kind {
                Kind::Bytes => Arg::Bytes(self.terms(false)?),
                Kind::Key => {
                    let df = self.ident();
                    let id = if self.eat('/') {
                        self.ident()
                    } else {
                        String::new()
                    };
                    let id = u8::from_str_radix(&id, 16)
                        .ok()
                        .filter(|_| !df.is_empty() && id.len() == 2)
                        .ok_or_else(|| self.error("a key is written DF/ID, e.g. SSSE/04"))?;
                    Arg::Key { df, id }
                }
                Kind::Text => {
                    let start = self.at;
                    while self.peek().is_some_and(|c| c != ',' && c != ')') {
                        self.at += 1;
                    }
                    Arg::Text(
                        self.chars[start..self.at]
                            .iter()
                            .collect::<String>()
                            .trim()
                            .to_owned(),
                    )
                }
            });
        }
        self.skip_ws();
        if !self.eat(')') {
            return Err(self.error(&format!("{name} takes {} arguments", kinds.len())));
        }
        Ok(Call {
            function: *function,
            args,
        })
    }
}

/// An error when `len` bytes are more than any part of an expression may evaluate to.
fn within_output_limit(len: usize) -> Result<(), EvalError> {
    if len > MAX_EXPRESSION_BYTES {
        return Err(EvalError::Invalid(format!(
            "the expression evaluates to more than {MAX_EXPRESSION_BYTES} bytes, the limit"
        )));
    }
    Ok(())
}

fn eval_terms(terms: &[Term], scope: &Scope<'_>) -> Result<Vec<u8>, EvalError> {
    let mut out = Vec::new();
    for term in terms {
        match term {
            Term::Byte(b) => out.push(*b),
            Term::Any => {
                return Err(EvalError::Invalid(
                    "?? only belongs in an expected answer".into(),
                ))
            }
            Term::Capture(name) => out.extend_from_slice(scope.capture(name)?),
            Term::Field { id, value_only } => out.extend(scope.field(id, *value_only)?),
            Term::Call(call) => out.extend(eval_call(call, scope)?),
        }
        within_output_limit(out.len())?;
    }
    Ok(out)
}

fn eval_call(call: &Call, scope: &Scope<'_>) -> Result<Vec<u8>, EvalError> {
    let bytes = |i: usize| match call.args.get(i) {
        Some(Arg::Bytes(terms)) => eval_terms(terms, scope),
        _ => Err(EvalError::Invalid("argument kind mismatch".into())),
    };
    let text = |i: usize| match call.args.get(i) {
        Some(Arg::Text(t)) => Ok(t.as_str()),
        _ => Err(EvalError::Invalid("argument kind mismatch".into())),
    };
    let key = |i: usize| match call.args.get(i) {
        Some(Arg::Key { df, id }) => scope.card_key(df, *id),
        _ => Err(EvalError::Invalid("argument kind mismatch".into())),
    };
    let invalid = |what: &str, e: card_os::crypto::Error| {
        EvalError::Invalid(format!("{what}: {e:?} (SW {:04X})", e.status_word()))
    };
    let one_byte_len = |x: &[u8]| {
        u8::try_from(x.len()).map_err(|_| {
            EvalError::Invalid(format!("{} bytes do not fit one length byte", x.len()))
        })
    };
    match call.function {
        Function::Lc => {
            let x = bytes(0)?;
            let mut out = vec![one_byte_len(&x)?];
            out.extend(x);
            Ok(out)
        }
        Function::Len => Ok(vec![one_byte_len(&bytes(0)?)?]),
        Function::Pin => {
            let pin = card_os::crypto::Pin::from_ascii(text(0)?.as_bytes())
                .map_err(|e| invalid("pin()", e))?;
            Ok(pin.as_bcd().to_vec())
        }
        Function::Ascii => Ok(text(0)?.as_bytes().to_vec()),
        Function::Repeat => {
            let unit = bytes(0)?;
            let n: usize = text(1)?
                .parse()
                .map_err(|_| EvalError::Invalid("repeat(X, n): n is a decimal count".into()))?;
            // Checked before anything is allocated: the count may be any number.
            within_output_limit(unit.len().saturating_mul(n))?;
            Ok(unit.repeat(n))
        }
        Function::Flip => {
            let mut x = bytes(0)?;
            if let Some(last) = x.last_mut() {
                *last ^= 0x01;
            }
            Ok(x)
        }
        Function::ExtAuth => {
            let c = card_os::crypto::external_cryptogram(&key(0)?, &bytes(1)?)
                .map_err(|e| invalid("ext_auth()", e))?;
            Ok(c.as_bytes().to_vec())
        }
        Function::IntAuth => {
            let c = card_os::crypto::internal_authenticate(&key(0)?, &bytes(1)?)
                .map_err(|e| invalid("int_auth()", e))?;
            Ok(c.as_bytes().to_vec())
        }
        Function::Mac | Function::Sm => {
            let k = key(0)?;
            let challenge = bytes(1)?;
            let header: [u8; 4] = bytes(2)?.try_into().map_err(|_| {
                EvalError::Invalid("the header of mac()/sm() is 4 bytes: CLA INS P1 P2".into())
            })?;
            let data = bytes(3)?;
            let mac = card_os::crypto::sm::command_mac(&k, &challenge, header, &data)
                .map_err(|e| invalid("mac()", e))?;
            if call.function == Function::Mac {
                return Ok(mac.to_vec());
            }
            let mut out = header.to_vec();
            out.push(one_byte_len(&[&data[..], &mac[..]].concat())?);
            out.extend(data);
            out.extend(mac);
            Ok(out)
        }
        Function::PurseDebit | Function::PurseDebitAnswer => {
            use card_os::crypto::purse::{purchase_session_input, session_key, Purchase, Settings};
            let keys = if call.function == Function::PurseDebit {
                1
            } else {
                2
            };
            let init = bytes(keys)?;
            let (random, serial) = match init.get(14..22) {
                Some(&[s1, s2, _, _, r1, r2, r3, r4]) => {
                    ([r1, r2, r3, r4], u16::from_be_bytes([s1, s2]))
                }
                _ => {
                    return Err(EvalError::Invalid(
                        "the INITIALIZE FOR PURCHASE answer has 22 bytes".into(),
                    ))
                }
            };
            let sized = |i: usize, what: &str| {
                let b = bytes(i)?;
                Ok::<_, EvalError>((b.len(), b, what.to_owned()))
            };
            let fixed = |i: usize, n: usize, what: &str| -> Result<Vec<u8>, EvalError> {
                let (len, b, what) = sized(i, what)?;
                if len == n {
                    Ok(b)
                } else {
                    Err(EvalError::Invalid(format!(
                        "{what} has {n} bytes, not {len}"
                    )))
                }
            };
            let purchase = Purchase {
                amounts: array(fixed(keys + 1, 12, "AMOUNTS")?)?,
                terminal_no: array(fixed(keys + 2, 6, "TERMINAL_NO")?)?,
                terminal_serial: array(fixed(keys + 3, 4, "TERMINAL_SERIAL")?)?,
                time: array(fixed(keys + 4, 7, "TIME")?)?,
            };
            let settings = Settings::default();
            let session = session_key(
                &key(0)?,
                &purchase_session_input(&random, serial, &purchase.terminal_serial),
            )
            .map_err(|e| invalid("purse session key", e))?;
            if call.function == Function::PurseDebit {
                let mac1 = purchase
                    .mac1(&session, settings)
                    .map_err(|e| invalid("MAC1", e))?;
                return Ok([&purchase.terminal_serial[..], &purchase.time, &mac1].concat());
            }
            let tac = purchase
                .tac(&key(1)?, settings)
                .map_err(|e| invalid("TAC", e))?;
            let mac2 = purchase
                .mac2(&session, settings)
                .map_err(|e| invalid("MAC2", e))?;
            Ok([tac, mac2].concat())
        }
        Function::PurseCredit | Function::PurseLoadTac => {
            use card_os::crypto::purse::{load_session_input, session_key, Load, Settings};
            let init = bytes(1)?;
            let (balance, serial, random) = match init.get(..12) {
                Some(&[b1, b2, b3, b4, s1, s2, _, _, r1, r2, r3, r4]) => (
                    u32::from_be_bytes([b1, b2, b3, b4]),
                    u16::from_be_bytes([s1, s2]),
                    [r1, r2, r3, r4],
                ),
                _ => {
                    return Err(EvalError::Invalid(
                        "the INITIALIZE FOR LOAD answer has 16 bytes".into(),
                    ))
                }
            };
            let amount: [u8; 4] = array(bytes(2)?)?;
            let load = Load {
                balance,
                amount: u32::from_be_bytes(amount),
                serial,
                terminal_no: array(bytes(3)?)?,
            };
            let time: [u8; 7] = array(bytes(4)?)?;
            let settings = Settings::default();
            if call.function == Function::PurseLoadTac {
                let tac = load
                    .tac(&key(0)?, settings, &time)
                    .map_err(|e| invalid("TAC", e))?;
                return Ok(tac.to_vec());
            }
            let session = session_key(&key(0)?, &load_session_input(&random, serial))
                .map_err(|e| invalid("purse session key", e))?;
            let mac2 = load
                .mac2(&session, settings, &time)
                .map_err(|e| invalid("MAC2", e))?;
            Ok([&time[..], &mac2].concat())
        }
        Function::Date => {
            let day = moved_date(&bytes(0)?, text(1)?)?;
            codec::encode(Encoding::Date, 4, &day.digits())
                .map_err(|e| EvalError::Invalid(format!("date(): {day}: {e}")))
        }
    }
}

/// Bytes of a fixed length (a purse function's argument).
fn array<const N: usize>(bytes: Vec<u8>) -> Result<[u8; N], EvalError> {
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| EvalError::Invalid(format!("expected {N} bytes, got {len}")))
}

/// `date(DATE, OFFSET)`: DATE (4 bytes packed BCD) moved by OFFSET, terms `+Nm` (months, the day
/// clamped to the month's last) and `+Nd` (days) applied left to right.
fn moved_date(date: &[u8], offset: &str) -> Result<Day, EvalError> {
    let invalid = |why: String| EvalError::Invalid(format!("date(): {why}"));
    let digits = hex::encode(date);
    let mut day = Day::parse(&digits)
        .ok_or_else(|| invalid(format!("{digits} is not a packed BCD date YYYYMMDD")))?;
    let mut rest = offset.trim();
    if rest.is_empty() {
        return Err(invalid(
            "the offset is empty; write e.g. +6m or +6m+1d".into(),
        ));
    }
    // The bounds are on the sums of all terms: many small terms cost as much as one big one.
    let (mut months, mut days) = (0u32, 0u32);
    while !rest.is_empty() {
        let term = rest
            .strip_prefix('+')
            .ok_or_else(|| invalid(format!("{offset}: each term is +Nm or +Nd")))?;
        let unit_at = term
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| invalid(format!("{offset}: a count needs a unit, m or d")))?;
        let count: u32 = term[..unit_at]
            .parse()
            .map_err(|_| invalid(format!("{offset}: each term is +Nm or +Nd")))?;
        let (total, limit, what) = match term[unit_at..].chars().next() {
            Some('m') => (&mut months, MAX_DATE_MONTHS, "months"),
            Some('d') => (&mut days, MAX_DATE_DAYS, "days"),
            _ => return Err(invalid(format!("{offset}: the units are m and d"))),
        };
        *total = total.saturating_add(count);
        if *total > limit {
            return Err(invalid(format!(
                "{offset}: more than {limit} {what} in all, the limit"
            )));
        }
        if what == "months" {
            day = day.plus_months(count);
        } else {
            (0..count).for_each(|_| day = day.next_day());
        }
        rest = &term[unit_at + 1..];
    }
    Ok(day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::CardFacts;
    use std::collections::HashMap;

    fn eval(text: &str, captures: &HashMap<String, Vec<u8>>) -> Result<Vec<u8>, EvalError> {
        let facts = CardFacts::none();
        parse_template(text)
            .unwrap()
            .eval(&Scope::new(&facts, captures))
    }

    #[test]
    fn templates_join_hex_captures_and_functions() {
        let mut captures = HashMap::new();
        captures.insert("challenge".to_string(), vec![0x11, 0x22]);
        assert_eq!(
            eval("00 A4 0400 {lc(D1 56 {challenge})}", &captures).unwrap(),
            vec![0x00, 0xA4, 0x04, 0x00, 0x04, 0xD1, 0x56, 0x11, 0x22]
        );
        assert_eq!(
            eval("{pin(12345)} {repeat(AB, 3)} {flip(0102)}", &captures).unwrap(),
            vec![0x12, 0x34, 0x5F, 0xAB, 0xAB, 0xAB, 0x01, 0x03]
        );
        assert_eq!(eval("{ascii(3.00)}", &captures).unwrap(), b"3.00".to_vec());
    }

    #[test]
    fn dates_move_by_months_clamped_then_by_days() {
        let captures = HashMap::new();
        assert_eq!(
            eval("{date(20 24 01 01, +6m)}", &captures).unwrap(),
            [0x20, 0x24, 0x07, 0x01]
        );
        assert_eq!(
            eval("{date(20 24 08 31, +6m+1d)}", &captures).unwrap(),
            [0x20, 0x25, 0x03, 0x01]
        );
        assert_eq!(
            eval("{date(20 24 12 31, +1d)}", &captures).unwrap(),
            [0x20, 0x25, 0x01, 0x01]
        );
        for bad in [
            "{date(20 24 02 30, +1d)}",
            "{date(20 24 01 01, 6m)}",
            "{date(20 24 01 01, +6y)}",
            "{date(20 24 01 01, +m)}",
        ] {
            assert!(
                matches!(eval(bad, &captures), Err(EvalError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_names_and_bad_syntax_are_errors_with_a_position() {
        assert!(parse_template("00 A")
            .unwrap_err()
            .contains("two adjacent hex digits"));
        assert!(parse_template("{nope(00)}")
            .unwrap_err()
            .contains("not a function"));
        assert!(parse_template("{ext_auth(04, 00)}")
            .unwrap_err()
            .contains("DF/ID"));
        assert!(parse_template("00 ??").is_err());
        assert!(matches!(
            eval("{challenge}", &HashMap::new()),
            Err(EvalError::Invalid(_))
        ));
    }

    #[test]
    fn patterns_match_any_bytes_and_open_ends() {
        let facts = CardFacts::none();
        let captures = HashMap::new();
        let scope = Scope::new(&facts, &captures);
        let p = parse_pattern("6F ?? 84 *").unwrap().eval(&scope).unwrap();
        assert_eq!(p.mismatch(&[0x6F, 0x10, 0x84, 1, 2]), None);
        assert!(p.mismatch(&[0x6F, 0x10, 0x85]).unwrap().contains("byte 2"));
        assert!(p.mismatch(&[0x6F]).is_some());
        let exact = parse_pattern("0102").unwrap().eval(&scope).unwrap();
        assert!(exact.mismatch(&[1, 2, 3]).is_some());
        let empty = parse_pattern("").unwrap().eval(&scope).unwrap();
        assert_eq!(empty.mismatch(&[]), None);
    }
}
