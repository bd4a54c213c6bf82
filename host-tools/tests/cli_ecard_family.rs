//! `sscard ecard family add | list | remove` against the real
//! `sscard platform serve`: the holder logs in, adds members with their consent, lists them
//! and removes one, each with `--json`; passwords come from standard input or a file. The
//! holder is named as for every holder command: by e-card id, or by number and name.

mod common;

use common::*;
use sscard_platform::model::CardRegistration;
use sscard_platform::registry::Actor;
use sscard_platform::Store;

/// The refusal exit code of the back office (docs/host-tools.md).
const EXIT_PLATFORM_REFUSED: i32 = 50;
/// A malformed or unreadable e-card password (docs/host-tools.md).
const EXIT_PASSWORD_REJECTED: i32 = 36;

/// Person `i` born on 1 January `age` years ago, card activated, e-card with `password`.
fn person(
    store: &Store,
    rt: &tokio::runtime::Runtime,
    i: u32,
    age: i32,
    password: &str,
) -> (CardRegistration, String) {
    let year: i32 = sscard_platform::time::today()[..4].parse().unwrap();
    let c = CardRegistration {
        card_number: format!("F{i:08}"),
        ssn: format!("110105{:04}0101{i:04}", year - age),
        name: format!("家人{i}"),
        ..registry_card(i)
    };
    let actor = Actor::new("test");
    rt.block_on(async {
        register_activated(store, &c, &actor).await;
        let e = apply_ecard(store, &c, password, &actor).await;
        (c, e.id)
    })
}

#[test]
fn a_holder_adds_lists_and_removes_family_members() {
    let dir = TestDir::new("cli-ecard-family");
    let db = format!("sqlite:{}", dir.path().join("registry.db").display());
    let service = Service::start(&db);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(Store::open(&db)).unwrap();
    let (holder, holder_id) = person(&store, &rt, 1, 40, "111111");
    let (mother, mother_id) = person(&store, &rt, 2, 66, "222222");
    let (_, child_id) = person(&store, &rt, 3, 7, "333333");

    let login = |command: &str| {
        vec![
            "--json".to_owned(),
            "ecard".into(),
            "family".into(),
            command.into(),
            "--platform".into(),
            service.base.clone(),
            "--ssn".into(),
            holder.ssn.clone(),
            "--name".into(),
            holder.name.clone(),
        ]
    };
    let run = |args: Vec<String>, stdin: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sscard_stdin(&args, stdin)
    };

    // The mother consents with her password (from a file), found by number and name; the
    // holder's password comes from standard input.
    let wrong_file = dir.path().join("wrong-member-password");
    std::fs::write(&wrong_file, "999999\n").unwrap();
    let mother_file = dir.path().join("mother-password");
    std::fs::write(&mother_file, "222222\n").unwrap();
    let mut add = login("add");
    add.extend(
        [
            "--password-file",
            "-",
            "--member-ssn",
            &mother.ssn,
            "--member-name",
            &mother.name,
            "--relationship",
            "parent",
        ]
        .map(String::from),
    );
    let with_member_file = |mut args: Vec<String>, file: &std::path::Path| {
        args.extend([
            "--member-password-file".to_owned(),
            file.display().to_string(),
        ]);
        args
    };
    let wrong = run(with_member_file(add.clone(), &wrong_file), "111111\n");
    assert_eq!(wrong.code, EXIT_PLATFORM_REFUSED, "{}", wrong.stderr);
    assert_eq!(
        wrong.json()["error"]["kind"],
        "platform_refused",
        "{}",
        wrong.stdout
    );
    assert!(wrong.stderr.contains("wrong"), "{}", wrong.stderr);
    // Standard input serves one password: both from it is refused before any login.
    let mut both = add.clone();
    both.extend(["--member-password-file".to_owned(), "-".to_owned()]);
    let both = run(both, "111111\n222222\n");
    assert_eq!(both.code, EXIT_USAGE, "{}", both.stderr);
    assert!(both.stderr.contains("one password"), "{}", both.stderr);
    let added = run(with_member_file(add, &mother_file), "111111\n");
    assert_eq!(added.code, 0, "{}", added.stderr);
    let added = added.json();
    assert_eq!(added["added"]["ecard_id"], mother_id.as_str());
    assert_eq!(added["added"]["consent"], "own");

    // The child: the holder as guardian; the holder's password from a file.
    let password_file = dir.path().join("holder-password");
    std::fs::write(&password_file, "111111\n").unwrap();
    let mut add = login("add");
    add.extend(
        [
            "--password-file",
            password_file.to_str().unwrap(),
            "--member-ecard",
            &child_id,
            "--relationship",
            "child",
            "--guardian",
        ]
        .map(String::from),
    );
    let added = run(add, "");
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert_eq!(added.json()["added"]["consent"], "guardian");

    let mut list = login("list");
    list.extend(["--password-file".to_owned(), "-".to_owned()]);
    let listed = run(list.clone(), "111111\n");
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let listed = listed.json();
    assert_eq!(listed["holder"], holder_id.as_str());
    assert_eq!(listed["limit"], 8);
    let members: Vec<_> = listed["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["ecard_id"].as_str().unwrap().to_owned(),
                m["relationship"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        members,
        [
            (mother_id.clone(), "parent".to_owned()),
            (child_id.clone(), "child".to_owned())
        ]
    );

    let mut remove = login("remove");
    remove.extend([
        "--password-file".to_owned(),
        "-".to_owned(),
        mother_id.clone(),
    ]);
    let removed = run(remove.clone(), "111111\n");
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert_eq!(removed.json()["removed"]["member"], mother_id.as_str());
    let again = run(remove, "111111\n");
    assert_eq!(again.code, EXIT_PLATFORM_REFUSED, "{}", again.stderr);

    let listed = run(list.clone(), "111111\n").json();
    assert_eq!(listed["members"].as_array().unwrap().len(), 1);

    // The operator lowers the limit: the list says so, and the next add is refused.
    let set = sscard(&["--json", "platform", "family-limit", "1", "--db", &db]);
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert_eq!(set.json()["family_max_members"], 1);
    assert_eq!(run(list.clone(), "111111\n").json()["limit"], 1);
    let mut add = login("add");
    add.extend(
        [
            "--password-file",
            "-",
            "--member-ecard",
            &mother_id,
            "--relationship",
            "parent",
        ]
        .map(String::from),
    );
    let full = run(with_member_file(add, &mother_file), "111111\n");
    assert_eq!(full.code, EXIT_PLATFORM_REFUSED, "{}", full.stderr);
    assert!(full.stderr.contains("family-limit"), "{}", full.stderr);
    assert_eq!(
        sscard(&["platform", "family-limit", "11", "--db", &db]).code,
        EXIT_USAGE
    );

    // Without --json, a person reads the family; a malformed password is refused as one.
    let mut text = list.clone();
    text.remove(0);
    let shown = run(text, "111111\n");
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(shown.stdout.contains("1 of at most 1"), "{}", shown.stdout);
    assert!(shown.stdout.contains("guardian"), "{}", shown.stdout);
    let bad = run(list, "12ab\n");
    assert_eq!(bad.code, EXIT_PASSWORD_REJECTED, "{}", bad.stderr);
    // No password on the command line: an argument for it does not exist.
    let mut clear = login("list");
    clear.extend(["--password".to_owned(), "111111".to_owned()]);
    assert_eq!(run(clear, "").code, EXIT_USAGE);
}

/// The one holder login of every holder command: family commands take `--ecard ID`, `show`
/// takes `--ssn` with `--name`; a holder named both ways, half a way, or not at all is a usage
/// error before anything is asked or sent.
#[test]
fn every_holder_command_logs_in_by_ecard_id_or_by_number_and_name() {
    let dir = TestDir::new("cli-ecard-holder-login");
    let db = format!("sqlite:{}", dir.path().join("registry.db").display());
    let service = Service::start(&db);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(Store::open(&db)).unwrap();
    let (holder, holder_id) = person(&store, &rt, 1, 40, "111111");
    let (sister, sister_id) = person(&store, &rt, 2, 35, "222222");
    let sister_file = dir.path().join("sister-password");
    std::fs::write(&sister_file, "222222\n").unwrap();
    let sister_file = sister_file.display().to_string();
    let base = service.base.as_str();
    let by_id = [
        "--platform",
        base,
        "--ecard",
        &holder_id,
        "--password-file",
        "-",
    ];

    let mut add = vec!["--json", "ecard", "family", "add"];
    add.extend(by_id);
    add.extend([
        "--member-ecard",
        &sister_id,
        "--relationship",
        "sibling",
        "--member-password-file",
        &sister_file,
    ]);
    let added = sscard_stdin(&add, "111111\n");
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert_eq!(added.json()["holder"], holder_id.as_str());
    assert_eq!(added.json()["added"]["ecard_id"], sister_id.as_str());

    let mut list = vec!["--json", "ecard", "family", "list"];
    list.extend(by_id);
    let listed = sscard_stdin(&list, "111111\n");
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(listed.json()["holder"], holder_id.as_str());
    assert_eq!(listed.json()["members"][0]["ecard_id"], sister_id.as_str());
    // The id names whose password it is: the sister's own password does not open his account.
    let wrong = sscard_stdin(&list, "222222\n");
    assert_eq!(wrong.code, EXIT_PLATFORM_REFUSED, "{}", wrong.stderr);

    let mut remove = vec!["--json", "ecard", "family", "remove"];
    remove.extend(by_id);
    remove.push(&sister_id);
    let removed = sscard_stdin(&remove, "111111\n");
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert_eq!(removed.json()["removed"]["member"], sister_id.as_str());

    // `show` by number and name: the sister's own card face.
    let show = [
        "--json",
        "ecard",
        "show",
        "--platform",
        base,
        "--ssn",
        &sister.ssn,
        "--name",
        &sister.name,
        "--password-file",
        "-",
    ];
    let shown = sscard_stdin(&show, "222222\n");
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert_eq!(shown.json()["id"], sister_id.as_str());
    assert_eq!(shown.json()["name"], sister.name.as_str());
    let wrong = sscard_stdin(&show, "111111\n");
    assert_eq!(wrong.code, EXIT_PLATFORM_REFUSED, "{}", wrong.stderr);

    // Exactly one form: both, half of the second, or none is a usage error.
    let both = [
        "ecard",
        "show",
        "--platform",
        base,
        "--ecard",
        &holder_id,
        "--ssn",
        &holder.ssn,
        "--name",
        &holder.name,
        "--password-file",
        "-",
    ];
    let no_name = [
        "ecard",
        "show",
        "--platform",
        base,
        "--ssn",
        &holder.ssn,
        "--password-file",
        "-",
    ];
    let no_ssn = [
        "ecard",
        "family",
        "list",
        "--platform",
        base,
        "--name",
        &holder.name,
        "--password-file",
        "-",
    ];
    let nobody = [
        "ecard",
        "family",
        "list",
        "--platform",
        base,
        "--password-file",
        "-",
    ];
    for args in [&both[..], &no_name[..], &no_ssn[..], &nobody[..]] {
        let run = sscard_stdin(args, "111111\n");
        assert_eq!(run.code, EXIT_USAGE, "{args:?}: {}", run.stderr);
    }
}
