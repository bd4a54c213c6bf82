//! Code lists: region (GB/T 2260), gender (GB/T 2261.1), nation (GB 3304), card identification code.

use super::CodecError;

/// Province-level prefixes of GB/T 2260 (mainland provinces, Taiwan 71, Hong Kong 81, Macao 82).
const PROVINCES: [u8; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// The registered application provider identifier of the social security card.
pub(super) const SSC_RID: [u8; 5] = [0xD1, 0x56, 0x00, 0x00, 0x05];

/// Whether `value` is 6 digits starting with a province prefix of GB/T 2260.
pub fn is_valid_region(value: &str) -> bool {
    value.len() == 6
        && value.bytes().all(|b| b.is_ascii_digit())
        && value
            .get(..2)
            .and_then(|p| p.parse::<u8>().ok())
            .is_some_and(|p| PROVINCES.contains(&p))
}

/// Whether `value` is a GB/T 2261.1 gender code: 0 unknown, 1 male, 2 female, 9 unstated.
pub fn is_valid_gender(value: &str) -> bool {
    matches!(value, "0" | "1" | "2" | "9")
}

/// Whether `value` is a GB 3304 nation code: 01..56, 97 (other), 98 (foreign-born naturalised).
pub fn is_valid_nation(value: &str) -> bool {
    value.len() == 2
        && value
            .parse::<u8>()
            .is_ok_and(|n| (1..=56).contains(&n) || n == 97 || n == 98)
}

/// The gender of a GB/T 2261.1 code in Chinese and English, e.g. ("男", "male").
pub fn gender_name(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "0" => ("未知", "unknown"),
        "1" => ("男", "male"),
        "2" => ("女", "female"),
        "9" => ("未说明", "unstated"),
        _ => return None,
    })
}

/// GB 3304 nation names, code 01 first.
const NATIONS: [&str; 56] = [
    "汉族",
    "蒙古族",
    "回族",
    "藏族",
    "维吾尔族",
    "苗族",
    "彝族",
    "壮族",
    "布依族",
    "朝鲜族",
    "满族",
    "侗族",
    "瑶族",
    "白族",
    "土家族",
    "哈尼族",
    "哈萨克族",
    "傣族",
    "黎族",
    "傈僳族",
    "佤族",
    "畲族",
    "高山族",
    "拉祜族",
    "水族",
    "东乡族",
    "纳西族",
    "景颇族",
    "柯尔克孜族",
    "土族",
    "达斡尔族",
    "仫佬族",
    "羌族",
    "布朗族",
    "撒拉族",
    "毛南族",
    "仡佬族",
    "锡伯族",
    "阿昌族",
    "普米族",
    "塔吉克族",
    "怒族",
    "乌孜别克族",
    "俄罗斯族",
    "鄂温克族",
    "德昂族",
    "保安族",
    "裕固族",
    "京族",
    "塔塔尔族",
    "独龙族",
    "鄂伦春族",
    "赫哲族",
    "门巴族",
    "珞巴族",
    "基诺族",
];

/// The name of a GB 3304 nation code ("01" → "汉族").
pub fn nation_name(code: &str) -> Option<&'static str> {
    if !is_valid_nation(code) {
        return None;
    }
    match code.parse::<usize>().ok()? {
        97 => Some("其他"),
        98 => Some("外国血统中国籍人士"),
        n => NATIONS.get(n - 1).copied(),
    }
}

pub(super) fn check_region(value: &str) -> Result<(), CodecError> {
    is_valid_region(value)
        .then_some(())
        .ok_or_else(|| CodecError::BadRegion {
            value: value.to_owned(),
        })
}

pub(super) fn check_gender(value: &str) -> Result<(), CodecError> {
    is_valid_gender(value)
        .then_some(())
        .ok_or_else(|| CodecError::BadGender {
            value: value.to_owned(),
        })
}

pub(super) fn check_nation(value: &str) -> Result<(), CodecError> {
    is_valid_nation(value)
        .then_some(())
        .ok_or_else(|| CodecError::BadNation {
            value: value.to_owned(),
        })
}

pub(super) fn check_card_id_code(value: &str) -> Result<(), CodecError> {
    let bad = |reason: &str| CodecError::BadCardIdCode {
        reason: reason.to_owned(),
    };
    if value.len() != 32 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("it must be 32 hex digits"));
    }
    let region = &value[..6];
    if !is_valid_region(region) {
        return Err(bad(&format!("{region} is not a region code")));
    }
    if !value[6..16].eq_ignore_ascii_case(&hex::encode(SSC_RID)) {
        return Err(bad("bytes 4 to 8 are not D156000005"));
    }
    if value.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err(bad("write hex digits in upper case"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_names() {
        assert_eq!(gender_name("1"), Some(("男", "male")));
        assert_eq!(gender_name("3"), None);
        assert_eq!(nation_name("01"), Some("汉族"));
        assert_eq!(nation_name("56"), Some("基诺族"));
        assert_eq!(nation_name("97"), Some("其他"));
        assert_eq!(nation_name("57"), None);
    }
}
