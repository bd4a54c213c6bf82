//! The 23 C functions: each converts its arguments (GBK → text, null → a parameter error),
//! calls [`crate::api::call`], and writes pOutInfo back in GBK, cut to the size the spec promises
//! for that function. Nothing else happens here. A panic never crosses the boundary: it is caught
//! and answered as −5 ("internal error"), and the driver stays usable.

use std::os::raw::{c_char, c_int, c_long};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::api::{self, Arg};
use crate::codes::{self, Failure};
use crate::ops::PARAM_MAX;
use crate::text::{from_gbk, out_bytes};

/// An argument as C passed it.
#[derive(Clone, Copy)]
enum RawArg {
    Int(c_int),
    Str(*const c_char),
}

/// The bytes of a NUL-terminated string, read at most `PARAM_MAX + 1` bytes far (longer is −42).
///
/// # Safety
/// `ptr` is null or points to a NUL-terminated string (or to at least `PARAM_MAX + 1` readable
/// bytes).
unsafe fn c_bytes<'a>(ptr: *const c_char) -> Result<Option<&'a [u8]>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    let mut len = 0usize;
    // SAFETY: the caller's string is readable up to its NUL, and we stop at the NUL or the limit.
    while unsafe { *ptr.add(len) } != 0 {
        len += 1;
        if len > PARAM_MAX {
            return Err(Failure::new(
                codes::ILLEGAL_LENGTH,
                format!("a parameter is longer than {PARAM_MAX} bytes"),
            ));
        }
    }
    // SAFETY: `len` bytes before the NUL were just read.
    Ok(Some(unsafe {
        std::slice::from_raw_parts(ptr.cast::<u8>(), len)
    }))
}

/// Writes `text` to `out` as GBK with its NUL, at most `capacity` bytes.
///
/// # Safety
/// `out` is non-null and writable for `capacity` bytes.
unsafe fn write_out(out: *mut c_char, capacity: usize, text: &str) {
    let bytes = out_bytes(text, capacity);
    // SAFETY: `bytes.len() <= capacity` (out_bytes guarantees it), and out holds capacity bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out.cast::<u8>(), bytes.len()) };
}

fn run(name: &'static str, out: *mut c_char, raw: &[RawArg]) -> c_long {
    let capacity = api::signature(name).map_or(512, |s| s.out_capacity);
    if out.is_null() {
        return codes::BAD_PARAMETER as c_long;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut texts: Vec<Option<String>> = Vec::with_capacity(raw.len());
        for (index, arg) in raw.iter().enumerate() {
            if let RawArg::Str(ptr) = arg {
                let param = api::signature(name)
                    .and_then(|s| s.params.get(index))
                    .map_or("a parameter", |p| p.name());
                // SAFETY: the caller passes NUL-terminated strings or null, as the interface says.
                let text = unsafe { c_bytes(*ptr) }
                    .and_then(|b| b.map(|b| from_gbk(b, param)).transpose());
                match text {
                    Ok(t) => texts.push(t),
                    Err(f) => {
                        return api::Reply {
                            code: f.code,
                            out: f.message,
                        }
                    }
                }
            } else {
                texts.push(None);
            }
        }
        let args: Vec<Arg<'_>> = raw
            .iter()
            .zip(&texts)
            .map(|(raw, text)| match raw {
                RawArg::Int(n) => Arg::Int(*n),
                RawArg::Str(_) => Arg::Text(text.as_deref()),
            })
            .collect();
        api::call(name, &args)
    }));
    let reply = outcome.unwrap_or_else(|_| api::Reply {
        code: codes::CANNOT_LOAD,
        out: format!("internal error in {name}; the call did nothing more"),
    });
    let written = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: out is non-null; the interface promises `capacity` writable bytes.
        unsafe { write_out(out, capacity, &reply.out) }
    }));
    if written.is_err() {
        return codes::CANNOT_LOAD as c_long;
    }
    reply.code as c_long
}

macro_rules! export {
    ($( $name:ident ( $($arg:ident : $kind:ident),* ); )*) => {$(
        /// A function of the national interface (docs/reader-interface.md).
        ///
        /// # Safety
        /// String parameters are null or NUL-terminated; pOutInfo is writable for the size the
        /// spec promises for this function.
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: export!(@ty $kind),)* pOutInfo: *mut c_char) -> c_long {
            run(stringify!($name), pOutInfo, &[$(export!(@raw $kind $arg)),*])
        }
    )*};
    (@ty int) => { c_int };
    (@ty str) => { *mut c_char };
    (@raw int $a:ident) => { RawArg::Int($a) };
    (@raw str $a:ident) => { RawArg::Str($a.cast_const()) };
}

export! {
    iReadCardBas(iType: int);
    iReadCard(iType: int, iAuthType: int, pCardInfo: str, pFileAddr: str);
    iWriteCard(iType: int, pCardInfo: str, pFileAddr: str, pWriteData: str);
    iVerifyPIN(iType: int);
    iChangePIN(iType: int);
    iReloadPIN(iType: int, pCardInfo: str);
    iUnblockPIN(iType: int, pCardInfo: str);
    iDoDebit(iType: int, pCardInfo: str, pPayInfo: str);
    iReadDebitRecord(iType: int);
    iReadCardBas_HSM_Step1(iType: int);
    iReadCardBas_HSM_Step2(pKey: str);
    iReadCard_HSM_Step1(iType: int, pCardInfo: str, pFileAddr: str);
    iReadCard_HSM_Step2(pKey: str);
    iWriteCard_HSM_Step1(iType: int, pCardInfo: str, pFileAddr: str);
    iWriteCard_HSM_Step2(pKey: str, pWriteData: str);
    iReloadPIN_HSM_Step1(iType: int, pCardInfo: str);
    iReloadPIN_HSM_Step2(pKey: str);
    iReloadPIN_HSM_Step3(pKey: str);
    iUnblockPIN_HSM_Step1(iType: int, pCardInfo: str);
    iUnblockPIN_HSM_Step2(pKey: str);
    iUnblockPIN_HSM_Step3(pKey: str);
    iDoDebit_HSM_Step1(iType: int, pCardInfo: str, pPayInfo: str);
    iDoDebit_HSM_Step2(pKey: str);
}
