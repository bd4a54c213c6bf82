//! Layout loading and validation: the shipped layouts are valid, and every rule an extension can
//! break is reported with file, line and the rule, all problems at once.

use file_structures::layout::{
    self, AccessRule, Change, Clash, Layer, Problem, ReadMode, Structure,
};

const REGION_A: &str = include_str!("../layouts/local/example-region-a.toml");
const REGION_B: &str = include_str!("../layouts/local/example-region-b.toml");

/// An extension header followed by `body`.
fn extension(body: &str) -> String {
    format!("[layout]\nkind = \"extension\"\nname = \"t\"\nextends = \"national\"\nversion = \"3.0\"\n{body}")
}

/// Problems of an extension text, with the line each is on.
fn problems(body: &str) -> Vec<Problem> {
    layout::validate_str("t.toml", &extension(body), None)
}

/// The 1-based line of the first occurrence of `needle` in the extension text built from `body`.
fn line_of(body: &str, needle: &str) -> usize {
    let text = extension(body);
    let offset = text.find(needle).unwrap();
    text[..offset].matches('\n').count() + 1
}

fn assert_one(body: &str, at: &str, says: &str) {
    let found = problems(body);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].file, "t.toml");
    assert_eq!(found[0].line, line_of(body, at), "{found:#?}");
    assert!(
        found[0].message.contains(says),
        "{:?} does not say {says:?}",
        found[0].message
    );
}

/// As [`assert_one`], and the problem names the item it collides with, its layer and its file.
fn assert_clash(body: &str, at: &str, says: &str, item: &str, layer: Layer) -> Clash {
    assert_one(body, at, says);
    let clash = problems(body)[0]
        .clash
        .clone()
        .expect("a clash names the other item");
    assert_eq!(clash.item, item, "{clash:#?}");
    assert_eq!(clash.origin.layer, layer, "{clash:#?}");
    let file = match layer {
        Layer::National => layout::NATIONAL_FILE,
        Layer::Extension => "t.toml",
    };
    assert_eq!(clash.origin.file, file, "{clash:#?}");
    *clash
}

const EF0D: &str = r#"
[[ef]]
df = "SSSE"
fid = "EF0D"
sfi = 13
structure = "linear-variable"
read = "free"
update = "key:04"

[[ef.field]]
rec = 1
tag = "EA"
id = "person_id"
len = 12
encoding = "an"
mandatory = true
"#;

#[test]
fn national_layouts_and_examples_are_valid() {
    for version in layout::NATIONAL_VERSIONS {
        let l = layout::national(version).unwrap();
        assert_eq!(l.version, version);
        assert_eq!(
            l.dfs.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            ["SSSE", "DF01", "DF02", "DF03", "DF04"]
        );
    }
    let a = layout::load_str("a.toml", REGION_A, None).unwrap();
    assert_eq!(a.pin.tries, 3, "region A's setting changes the PIN tries");
    assert!(a.ef("SSSE/EF0D").is_some());
    let b = layout::load_str("b.toml", REGION_B, None).unwrap();
    assert_eq!(b.version, "2.0");
    assert_eq!(b.df("DF05").unwrap().efs[0].fields.len(), 4);
}

#[test]
fn version_3_needs_key_0a_to_read_personal_data_and_2_does_not() {
    let v2 = layout::national("2.0").unwrap();
    let v3 = layout::national("3.0").unwrap();
    let read = |l: &layout::Layout, p: &str| l.ef(p).unwrap().1.access.read;
    assert_eq!(read(&v2, "SSSE/EF06"), AccessRule::FREE);
    assert_eq!(read(&v3, "SSSE/EF06").key(), Some(0x0A));
    assert!(v2.df("SSSE").unwrap().keys.iter().all(|k| k.id != 0x0A));
    assert_eq!(
        v3.field("spec_version").unwrap().field.default.as_deref(),
        Some("3.00")
    );
    assert_eq!(
        v2.field("spec_version").unwrap().field.default.as_deref(),
        Some("2.00")
    );
    let changes = layout::diff(&v2, &v3);
    assert!(changes
        .iter()
        .any(|c| matches!(c, Change::Changed { what, .. } if what == "EF SSSE/EF06 access")));
    assert!(changes
        .iter()
        .any(|c| matches!(c, Change::Added { what } if what.starts_with("DF SSSE key 0A"))));
}

#[test]
fn access_rules_compile_to_the_86_bytes_of_the_contract() {
    let cases = [
        ("free", [0x00, 0x00]),
        ("never", [0xFF, 0x00]),
        ("pin", [0x01, 0x00]),
        ("key:04", [0x02, 0x04]),
        ("pin|key:04", [0x07, 0x04]),
        ("pin&key:04", [0x03, 0x04]),
        ("key:0B+sm", [0x12, 0x0B]),
    ];
    for (text, bytes) in cases {
        let rule: AccessRule = text.parse().unwrap();
        assert_eq!(rule.to_bytes(), bytes, "{text}");
        assert_eq!(rule.to_string(), text);
    }
    assert!("pin+sm".parse::<AccessRule>().is_err());
    assert!("key:4".parse::<AccessRule>().is_err());
    assert!("anyone".parse::<AccessRule>().is_err());
}

#[test]
fn extension_may_not_redefine_a_national_file() {
    let body = EF0D.replace("EF0D", "EF06").replace("sfi = 13", "sfi = 14");
    let clash = assert_clash(
        &body,
        "fid = \"EF06\"",
        "may not redefine or shadow a national file",
        "EF SSSE/EF06",
        Layer::National,
    );
    let national = layout::NATIONAL_TOML;
    let ef06 = national.find("fid = \"EF06\"").unwrap();
    assert_eq!(
        clash.origin.line,
        national[..ef06].matches('\n').count() + 1
    );
}

#[test]
fn a_clash_between_two_extension_files_is_no_national_one() {
    let twice = format!(
        "{EF0D}\n{}",
        EF0D.replace("sfi = 13", "sfi = 14")
            .replace("person_id", "person_id2")
    );
    let found = problems(&twice);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains("FIDs must be free in their DF"),
        "{found:#?}"
    );
    let clash = found[0].clash.as_ref().unwrap();
    assert_eq!(clash.item, "EF SSSE/EF0D");
    assert_eq!(clash.origin.layer, Layer::Extension);
    assert_eq!(clash.origin.file, "t.toml");
    assert_eq!(clash.origin.line, line_of(&twice, "fid = \"EF0D\""));
}

#[test]
fn extension_may_not_reuse_a_national_sfi() {
    assert_clash(
        &EF0D.replace("sfi = 13", "sfi = 5"),
        "sfi = 5",
        "may not reuse a national SFI",
        "EF SSSE/EF05",
        Layer::National,
    );
}

#[test]
fn extension_may_not_use_a_national_tag() {
    assert_clash(
        &EF0D.replace("\"EA\"", "\"09\""),
        "tag = \"09\"",
        "claimed by the national layout (SSSE/EF06 name)",
        "SSSE/EF06 name",
        Layer::National,
    );
}

#[test]
fn extension_may_not_redefine_a_national_df_or_key() {
    let df = "[[df]]\nname = \"DF01\"\nparent = \"MF\"\nfid = \"DF09\"\naid = \"D15600000509\"\n";
    assert_clash(
        df,
        "name = \"DF01\"",
        "may not redefine it",
        "DF DF01",
        Layer::National,
    );
    let key = "[[key]]\ndf = \"DF01\"\nid = \"84\"\nusage = \"external-auth\"\n";
    assert_clash(
        key,
        "id = \"84\"",
        "national key",
        "key 84 of DF01",
        Layer::National,
    );
}

#[test]
fn fids_must_be_free_in_their_df() {
    let df = "[[df]]\nname = \"DF05\"\nparent = \"MF\"\nfid = \"DF01\"\naid = \"D15600000504\"\n";
    assert_clash(
        df,
        "fid = \"DF01\"",
        "FIDs must be free in their DF",
        "DF DF01",
        Layer::National,
    );
}

#[test]
fn df_names_must_be_unique() {
    let df = "[[df]]\nname = \"DF05\"\nparent = \"MF\"\nfid = \"DF05\"\naid = \"D15600000500\"\n";
    assert_one(df, "name = \"DF05\"", "DF names must be unique");
}

#[test]
fn duplicate_tag_in_one_file() {
    let body = format!("{EF0D}\n[[ef.field]]\nrec = 2\ntag = \"EA\"\nid = \"other\"\nlen = 1\nencoding = \"an\"\nmandatory = false\n");
    let found = problems(&body);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].message.contains("duplicate tag EA"));
    let clash = found[0].clash.as_ref().unwrap();
    assert_eq!(clash.item, "field person_id");
    assert_eq!(clash.origin.layer, Layer::Extension);
    let text = extension(&body);
    let second = text.rfind("tag = \"EA\"").unwrap();
    assert_eq!(found[0].line, text[..second].matches('\n').count() + 1);
}

#[test]
fn record_numbers_have_no_gaps() {
    assert_one(
        &EF0D.replace("rec = 1", "rec = 2"),
        "tag = \"EA\"",
        "without gaps",
    );
}

#[test]
fn sizes_must_fit() {
    assert_one(
        &EF0D.replace("len = 12", "len = 300"),
        "len = 300",
        "len 300 is out of range",
    );
    assert_one(
        &EF0D.replace("encoding = \"an\"", "encoding = \"date\""),
        "len = 12",
        "always 4 bytes",
    );
    assert_one(
        &EF0D.replace("sfi = 13", "sfi = 31"),
        "sfi = 31",
        "SFI 31 is out of range",
    );
    let big = "[[ef]]\ndf = \"SSSE\"\nfid = \"EF0E\"\nstructure = \"transparent\"\nsize = 40000\nread = \"free\"\nupdate = \"never\"\n";
    assert_one(big, "size = 40000", "size 40000 is out of range");
}

#[test]
fn key_references_must_exist() {
    assert_one(
        &EF0D.replace("key:04", "key:77"),
        "fid = \"EF0D\"",
        "has no external-auth key 77",
    );
}

#[test]
fn access_rules_must_be_valid() {
    assert_one(
        &EF0D.replace("read = \"free\"", "read = \"everyone\""),
        "read = \"everyone\"",
        "is not an access rule",
    );
    assert_one(
        &EF0D.replace("key:04", "pin+sm"),
        "update = \"pin+sm\"",
        "secure messaging needs a key",
    );
}

#[test]
fn unknown_encoding_is_named_with_the_known_ones() {
    assert_one(
        &EF0D.replace("encoding = \"an\"", "encoding = \"utf8\""),
        "encoding = \"utf8\"",
        "unknown encoding \"utf8\": use one of an, gbk",
    );
}

#[test]
fn defaults_are_checked_with_the_field_codec() {
    let body = EF0D.replace("mandatory = true", "mandatory = true\ndefault = \"é\"");
    assert_one(&body, "default = \"é\"", "is not a valid an of 12 bytes");
}

#[test]
fn settings_an_extension_may_change_are_the_national_ones() {
    assert_one(
        "[settings]\npin_retries = 3\n",
        "pin_retries",
        "not a national setting",
    );
    assert_one(
        "[settings]\npin_tries = 30\n",
        "pin_tries = 30",
        "pin_tries must be 1 to 15",
    );
    let v3_ef05_keyed = layout::load_str(
        "t.toml",
        &extension("[settings]\ncard_identification_read = \"key:0A\"\n"),
        None,
    )
    .unwrap();
    assert_eq!(
        v3_ef05_keyed.ef("SSSE/EF05").unwrap().1.access.read.key(),
        Some(0x0A)
    );
}

#[test]
fn syntax_errors_name_their_line() {
    let found = layout::validate_str(
        "t.toml",
        &extension("[[ef]]\ndf = \"SSSE\"\nfid = EF0D\n"),
        None,
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].line, 8);
    assert!(found[0].message.starts_with("not a layout file"));
}

#[test]
fn all_problems_are_reported_at_once_with_file_and_line() {
    let body = r#"
[[df]]
name = "SSSE"
parent = "MF"
fid = "DDF1"
df_name = "x"

[[ef]]
df = "SSSE"
fid = "EF05"
sfi = 6
structure = "linear-variable"
read = "free"
update = "key:99"

[[ef.field]]
rec = 1
tag = "01"
id = "x_date"
len = 4
encoding = "datum"
mandatory = true

[[ef]]
df = "DF01"
fid = "EF20"
sfi = 5
structure = "linear-variable"
read = "free"
update = "never"

[[ef.field]]
rec = 1
tag = "0A"
id = "gender2"
len = 1
encoding = "gender"
mandatory = true
"#;
    let found = problems(body);
    let rendered: Vec<String> = found.iter().map(|p| p.to_string()).collect();
    let expect = [
        ("name = \"SSSE\"", "may not redefine it"),
        ("encoding = \"datum\"", "unknown encoding"),
        ("sfi = 5", "may not reuse a national SFI"),
        ("tag = \"0A\"", "claimed by the national layout"),
    ];
    for (at, says) in expect {
        let line = line_of(body, at);
        assert!(
            found
                .iter()
                .any(|p| p.line == line && p.message.contains(says)),
            "no problem at t.toml:{line} saying {says:?} in {rendered:#?}"
        );
    }
    assert!(rendered.iter().all(|r| r.starts_with("t.toml:")));
}

#[test]
fn read_plan_lists_every_data_file_with_its_sfi() {
    let l = layout::national("3.0").unwrap();
    let plan = l.read_plan();
    let ef06 = plan.iter().find(|p| p.path == "SSSE/EF06").unwrap();
    assert_eq!(
        (ef06.sfi, ef06.mode, ef06.df_path.clone()),
        (Some(6), ReadMode::Records { records: 7 }, vec![0xDDF1])
    );
    assert!(!ef06.free);
    let photo = plan.iter().find(|p| p.path == "SSSE/EF08").unwrap();
    assert_eq!(photo.mode, ReadMode::Binary { size: 4096 });
    assert!(plan
        .iter()
        .all(|p| !matches!(l.ef(&p.path).unwrap().1.structure, Structure::Cyclic { .. })));
}

#[test]
fn tree_shows_every_field_with_its_tag_and_origin() {
    let l = layout::load_str("a.toml", REGION_A, None).unwrap();
    let tree = layout::render_tree(&l);
    for f in l.fields() {
        assert!(
            tree.contains(&format!("tag {:02X} {}", f.field.tag, f.field.id)),
            "{} missing",
            f.field.id
        );
    }
    assert!(
        tree.contains("(a.toml:"),
        "extension items show their origin"
    );
}

#[test]
fn layout_files_past_their_limits_are_refused_naming_the_limit() {
    let big = extension(&format!("# {}\n", "x".repeat(layout::MAX_LAYOUT_BYTES)));
    let found = layout::validate_str("t.toml", &big, None);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains(&format!(
            "more than the limit of {}",
            layout::MAX_LAYOUT_BYTES
        )),
        "{found:#?}"
    );
    let dfs: String = (0..=layout::MAX_LAYOUT_DFS)
        .map(|i| format!("[[df]]\nname = \"X{i}\"\nparent = \"MF\"\nfid = \"{:04X}\"\naid = \"D1560000{i:04X}\"\n", 0x1000 + i))
        .collect();
    let found = problems(&dfs);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains(&format!(
            "{} [[df]] tables, more than the limit of {}",
            layout::MAX_LAYOUT_DFS + 1,
            layout::MAX_LAYOUT_DFS
        )),
        "{found:#?}"
    );
    let field = "[[ef.field]]\nrec = 1\ntag = \"EA\"\nid = \"f\"\nlen = 1\nencoding = \"an\"\nmandatory = false\n";
    let crowded = format!(
        "{EF0D}{}",
        field.repeat(layout::MAX_LAYOUT_FIELDS_PER_EF + 1)
    );
    let found = problems(&crowded);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].message.contains("fields in one EF"), "{found:#?}");
    assert_eq!(found[0].line, line_of(&crowded, "[[ef]]"));
}

#[test]
fn deeply_nested_toml_is_a_problem_not_a_crash() {
    let nested = extension(&format!(
        "x = {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    ));
    assert_eq!(layout::validate_str("t.toml", &nested, None).len(), 1);
}

#[test]
fn a_layout_file_is_read_with_a_bound_and_as_utf8() {
    let dir = std::env::temp_dir().join(format!("layout-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big.toml");
    std::fs::write(&big, vec![b'#'; layout::MAX_LAYOUT_BYTES + 1]).unwrap();
    let e = layout::load(&big, None).unwrap_err();
    assert!(e.to_string().contains("the limit for a layout file"), "{e}");
    let gbk = dir.join("gbk.toml");
    let text = extension("# 地区\n");
    let (bytes, _, _) = encoding_rs::GBK.encode(&text);
    std::fs::write(&gbk, &bytes).unwrap();
    let e = layout::load(&gbk, None).unwrap_err();
    assert!(
        e.to_string().contains("not valid utf-8 text at line 6"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
