//! Writes the generated part of the seed corpora (fuzz/corpus/<target>/gen-*): APDU sequences
//! recorded from the conformance suite on the simulator, with power cuts and corruptions added;
//! FCP answers and ATRs of the real simulated cards; vector files and expressions of the suite;
//! the layouts. Hand-written seeds (no `gen-` prefix) are kept. A generated seed that its body
//! fails on is written to fuzz/pending/<target>/ instead, and named on the output.
//!
//! cargo run -p sscard-fuzz-bodies --example write_seeds

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use card_os::testing::SSSE_NAME;
use sscard_fuzz_bodies::card::{CardKind, Program};
use sscard_fuzz_bodies::TARGETS;
use test_vectors::facts::CardFacts;
use test_vectors::format::Step;
use test_vectors::runner::run_vector;
use test_vectors::target::{CardError, CardUnderTest, NotPrepared, Prepared, Target};
use test_vectors::{CardKind as VectorCard, SimulatorTarget, Suite, Vector};

/// One thing the runner did to a card.
#[derive(Clone, Debug)]
enum Recorded {
    Apdu(Vec<u8>),
    Reset { cold: bool },
}

struct RecordingCard {
    card: test_vectors::sim::SimCard,
    log: Vec<Recorded>,
}

impl CardUnderTest for RecordingCard {
    fn reset(&mut self, cold: bool) -> Result<Vec<u8>, CardError> {
        self.log.push(Recorded::Reset { cold });
        self.card.reset(cold)
    }
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        let response = self.card.transmit(apdu)?;
        self.log.push(Recorded::Apdu(apdu.to_vec()));
        Ok(response)
    }
}

/// The simulator, recording what each vector sends.
struct Recorder {
    inner: SimulatorTarget,
    card: Option<RecordingCard>,
}

impl Target for Recorder {
    fn name(&self) -> String {
        "recorder".into()
    }
    fn prepare(&mut self, vector: &Vector) -> Result<Prepared<'_>, NotPrepared> {
        let (card, facts): (_, &CardFacts) =
            self.inner.fresh(vector.card).map_err(NotPrepared::Error)?;
        self.card = Some(RecordingCard {
            card,
            log: Vec::new(),
        });
        match self.card.as_mut() {
            Some(card) => Ok(Prepared { card, facts }),
            None => Err(NotPrepared::Skip("no card".into())),
        }
    }
}

fn card_kind(card: VectorCard) -> Option<CardKind> {
    match card {
        VectorCard::Demo => Some(CardKind::Demo),
        VectorCard::National20 => Some(CardKind::National20),
        VectorCard::National30 => Some(CardKind::National30),
        VectorCard::Blank => None,
    }
}

/// `fuzz/<kind>/<target>/`, created, without its generated files.
fn generated_dir(kind: &str, target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(kind)
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("gen-"))
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    dir
}

/// The seed directory of `target` (and its generated findings in fuzz/pending/ cleared).
fn corpus(target: &str) -> PathBuf {
    generated_dir("pending", target);
    generated_dir("corpus", target)
}

/// Writes a seed. A seed its target's body fails on today is a finding, not a seed: it goes to
/// fuzz/pending/<target>/ (and back to the corpus once a run of this program finds it fixed).
fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let target = dir.file_name().unwrap().to_string_lossy().into_owned();
    let body = TARGETS.iter().find(|t| t.name == target).unwrap().body;
    let dir = if std::panic::catch_unwind(|| body(bytes)).is_ok() {
        dir.to_path_buf()
    } else {
        println!("finding: {target}/gen-{name} fails today: kept in fuzz/pending/{target}/");
        // corpus() created it and cleared its generated files.
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../pending")
            .join(&target)
    };
    std::fs::write(dir.join(format!("gen-{name}")), bytes).unwrap();
}

fn main() {
    let suite = Suite::builtin().unwrap();
    let mut recorder = Recorder {
        inner: SimulatorTarget::new(),
        card: None,
    };

    // card_apdu: the first vectors of each hand-written suite file, as recorded, and the writes
    // among them again with a power cut in their last APDU.
    let card_dir = corpus("card_apdu");
    let mut recorded: Vec<(String, CardKind, Vec<Recorded>)> = Vec::new();
    for file in suite.files.iter().filter(|f| !f.name.starts_with("access")) {
        for vector in file
            .vectors
            .iter()
            .filter(|v| card_kind(v.card).is_some())
            .take(4)
        {
            let result = run_vector(&mut recorder, vector);
            assert!(result.passed(), "{} does not pass", vector.id);
            let log = recorder.card.take().map(|c| c.log).unwrap_or_default();
            let kind = card_kind(vector.card).unwrap();
            recorded.push((vector.id.clone(), kind, log));
        }
    }
    // A few generated access vectors: one national 3.0 write under each DF's rules.
    let access = suite
        .files
        .iter()
        .find(|f| f.name.starts_with("access"))
        .unwrap();
    for vector in access
        .vectors
        .iter()
        .filter(|v| v.id.starts_with("access.3.0") && v.id.contains(".write.pin+"))
        .step_by(12)
        .take(6)
    {
        let result = run_vector(&mut recorder, vector);
        assert!(result.passed(), "{} does not pass", vector.id);
        let log = recorder.card.take().map(|c| c.log).unwrap_or_default();
        recorded.push((vector.id.clone(), card_kind(vector.card).unwrap(), log));
    }
    let mut cut_seeds = 0;
    for (id, kind, log) in &recorded {
        let program = |cut: Option<(u8, bool)>| {
            let mut program = Program::new(*kind);
            let last = log.len().saturating_sub(1);
            // The runner's first step is the cold reset every vector starts with.
            for (i, step) in log.iter().enumerate().skip(1) {
                program = match (step, cut) {
                    (Recorded::Reset { cold: true }, _) => program.cold_reset(),
                    (Recorded::Reset { cold: false }, _) => program.warm_reset(),
                    (Recorded::Apdu(apdu), Some((writes, tear)))
                        if i == last && apdu.len() <= 255 =>
                    {
                        program.cut(writes, tear, apdu)
                    }
                    (Recorded::Apdu(apdu), _) => program.apdu(apdu),
                };
            }
            program.into_bytes()
        };
        write(&card_dir, id, &program(None));
        let writes = [
            0xD6, 0xDC, 0xE2, 0xE0, 0xE4, 0x24, 0x20, 0x2C, 0x84, 0xD4, 0x1E,
        ];
        let last_ins = log.iter().rev().find_map(|s| match s {
            Recorded::Apdu(apdu) => apdu.get(1).copied(),
            _ => None,
        });
        if last_ins.is_some_and(|ins| writes.contains(&ins)) && cut_seeds < 24 {
            write(&card_dir, &format!("{id}.cut1"), &program(Some((1, false))));
            write(
                &card_dir,
                &format!("{id}.cut3-torn"),
                &program(Some((3, true))),
            );
            cut_seeds += 2;
        }
    }
    // The PSAM: select its application, derive a card key, compute with it.
    let psam_aid = host_tools::jobs::activation::security::PSAM_AID;
    let mut select = vec![0x00, 0xA4, 0x04, 0x00, psam_aid.len() as u8];
    select.extend_from_slice(&psam_aid);
    let deliver = |usage: u8, id: u8, factors: &[u8]| {
        let mut apdu = vec![0x80, 0x1A, usage, id, factors.len() as u8];
        apdu.extend_from_slice(factors);
        apdu
    };
    let factors16: Vec<u8> = (0..16).collect();
    for (name, program) in [
        (
            "psam.deliver-encrypt",
            Program::new(CardKind::Psam)
                .apdu(&select)
                .apdu(&deliver(0x01, 0x01, &factors16[..8]))
                .apdu(&[0x80, 0xFA, 0x00, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8]),
        ),
        (
            "psam.deliver-two-factors-mac",
            Program::new(CardKind::Psam)
                .apdu(&select)
                .apdu(&deliver(0x05, 0x0B, &factors16))
                .apdu(&[
                    0x80, 0xFA, 0x05, 0x00, 0x11, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x04, 0xDC, 0x01,
                    0xAC, 0x41, 0x42, 0x43,
                ]),
        ),
        (
            "psam.cipher-without-key-then-reset",
            Program::new(CardKind::Psam)
                .apdu(&select)
                .apdu(&[0x80, 0xFA, 0x00, 0x00, 0x04, 1, 2, 3, 4])
                .warm_reset()
                .apdu(&deliver(0x02, 0x04, &factors16[..8]))
                .cold_reset()
                .apdu(&[0x00, 0x84, 0x00, 0x00, 0x08]),
        ),
    ] {
        write(&card_dir, name, &program.into_bytes());
    }

    // card_corrupted: descriptor fields of the demo card's files changed, then reads and writes.
    let corrupt_dir = corpus("card_corrupted");
    let mut select_ssse = vec![0x00, 0xA4, 0x04, 0x00, SSSE_NAME.len() as u8];
    select_ssse.extend_from_slice(&SSSE_NAME);
    let after = |program: Program| {
        program
            .apdu(&select_ssse)
            .apdu(&[0x00, 0xB2, 0x01, 0x2C, 0x00])
            .apdu(&[0x00, 0xDC, 0x02, 0x2C, 0x03, 0x02, 0x01, b'9'])
            .apdu(&[0x00, 0xE2, 0x00, 0x30, 0x03, 0x09, 0x01, 0x01])
            .apdu(&[0x00, 0xB0, 0x87, 0x00, 0x10])
            .apdu(&[0x00, 0xD6, 0x87, 0x10, 0x04, 1, 2, 3, 4])
            .apdu(&[0x00, 0xCA, 0xDF, 0x7F, 0x00])
            .apdu(&[0x00, 0xCA, 0x00, 0x66, 0x00])
            .cold_reset()
            .apdu(&select_ssse)
            .apdu(&[0x00, 0xB2, 0x01, 0x2C, 0x00])
    };
    // Descriptor 1 is SSSE, 2..5 its EF05..EF08 (docs/card-os.md, demo card). Offsets near 4 GiB
    // are where an unchecked addition wraps.
    let fields: [(u16, &str, &[u8]); 8] = [
        (32, "offset-far", &[0x80, 0x00, 0x00, 0x00]),
        (32, "offset-wrap", &[0xFF, 0xFF, 0xFF, 0xF0]),
        (32, "offset-zero", &[0x00, 0x00, 0x00, 0x00]),
        (36, "size-zero", &[0x00, 0x00]),
        (36, "size-max", &[0xFF, 0xFF]),
        (38, "mrl-max", &[0xFF]),
        (39, "slots-max", &[0xFF]),
        (0, "kind", &[0x07]),
    ];
    for descriptor in 1u16..=5 {
        for (field, name, bytes) in fields {
            let program =
                after(Program::new(CardKind::Demo).corrupt(descriptor * 80 + field, bytes));
            write(
                &corrupt_dir,
                &format!("demo.d{descriptor}.{name}"),
                &program.into_bytes(),
            );
        }
    }
    // A byte of the data area: a file's CRC no longer matches.
    write(
        &corrupt_dir,
        "demo.data-byte",
        &after(Program::new(CardKind::Demo).corrupt(64 * 80 + 300, &[0x5A])).into_bytes(),
    );
    // National 2.0: the descriptors of the DFs and EFs, then a PIN check, a challenge, an
    // authentication attempt, reads and the integrity report.
    let national = |program: Program| {
        program
            .apdu(&select_ssse)
            .apdu(&[0x00, 0x20, 0x00, 0x00, 0x03, 0x12, 0x34, 0x56])
            .apdu(&[0x00, 0x84, 0x00, 0x00, 0x08])
            .apdu(&[0x00, 0x82, 0x00, 0x04, 0x08, 1, 2, 3, 4, 5, 6, 7, 8])
            .apdu(&[0x00, 0xB2, 0x01, 0x2C, 0x00])
            .apdu(&[0x00, 0xB2, 0x07, 0x2C, 0x00])
            .apdu(&[0x00, 0xCA, 0xDF, 0x7F, 0x00])
            .apdu(&[0x00, 0xCA, 0xDF, 0x41, 0x00])
            .cold_reset()
            .apdu(&select_ssse)
            .apdu(&[0x00, 0x20, 0x00, 0x00, 0x03, 0x12, 0x34, 0x56])
    };
    for descriptor in 1u16..=8 {
        for (field, name, bytes) in [fields[1], fields[4]] {
            let program = national(
                Program::new(CardKind::National20).corrupt(descriptor * 80 + field, bytes),
            );
            write(
                &corrupt_dir,
                &format!("national-2.0.d{descriptor}.{name}"),
                &program.into_bytes(),
            );
        }
    }
    write(
        &corrupt_dir,
        "national-2.0.pin-area",
        &national(Program::new(CardKind::National20).corrupt(64 * 80 + 8 * 32, &[0x00, 0x00]))
            .into_bytes(),
    );

    // tlv, fcp: the FCP of every file of the demo and national cards, as SELECT answers them.
    let tlv_dir = corpus("tlv");
    let fcp_dir = corpus("fcp");
    let mut fcps = BTreeSet::new();
    for (kind, name) in [
        (VectorCard::Demo, "demo"),
        (VectorCard::National30, "national-3.0"),
    ] {
        let (mut card, _) = recorder.inner.fresh(kind).unwrap();
        let mut select = |apdu: &[u8]| {
            let r = card.transmit(apdu).unwrap();
            let (data, sw) = r.split_at(r.len() - 2);
            (data.to_vec(), sw == [0x90, 0x00])
        };
        for fid in [
            0x3F00u16, 0xDDF1, 0xEF05, 0xEF06, 0xEF07, 0xEF08, 0xDF01, 0xEF05, 0xDF04, 0xEF08,
            0xEF15,
        ] {
            let [a, b] = fid.to_be_bytes();
            let (data, ok) = select(&[0x00, 0xA4, 0x00, 0x04, 0x02, a, b, 0x00]);
            if ok && fcps.insert(data.clone()) {
                write(&fcp_dir, &format!("{name}.{fid:04X}"), &data);
                write(&tlv_dir, &format!("fcp.{name}.{fid:04X}"), &data);
            }
        }
        let (data, ok) =
            select(&[&[0x00, 0xA4, 0x04, 0x00, 0x0F][..], &SSSE_NAME, &[0x00]].concat());
        if ok {
            write(&fcp_dir, &format!("{name}.ssse-fci"), &data);
            write(&tlv_dir, &format!("fci.{name}.ssse"), &data);
        }
    }
    // CREATE FILE templates and long lengths.
    for (name, bytes) in [
        (
            "create-df",
            vec![
                0x62, 0x0F, 0x82, 0x01, 0x38, 0x83, 0x02, 0xDF, 0x09, 0x84, 0x06, 0xD1, 0x56, 0, 0,
                5, 9,
            ],
        ),
        (
            "len-81",
            [&[0x62, 0x81, 0x03][..], &[0x80, 0x01, 0xFF]].concat(),
        ),
        (
            "len-82",
            [&[0x9F, 0x0C, 0x82, 0x00, 0x03][..], &[0x86, 0x01, 0x01]].concat(),
        ),
    ] {
        write(&tlv_dir, name, &bytes);
    }

    // atr: the simulated cards' ATRs.
    let atr_dir = corpus("atr");
    for (kind, name) in [
        (VectorCard::Demo, "demo"),
        (VectorCard::National20, "national-2.0"),
        (VectorCard::National30, "national-3.0"),
    ] {
        let (mut card, _) = recorder.inner.fresh(kind).unwrap();
        write(&atr_dir, name, &card.reset(true).unwrap());
    }

    // layout_toml: the shipped layouts.
    let layout_dir = corpus("layout_toml");
    let layouts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../file-structures/layouts");
    write(
        &layout_dir,
        "national.toml",
        &std::fs::read(layouts.join("national.toml")).unwrap(),
    );
    for entry in std::fs::read_dir(layouts.join("local")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        write(&layout_dir, &name, &std::fs::read(&path).unwrap());
    }

    // vector_file: the suite's files, and each vector alone (quick to run).
    let vector_dir = corpus("vector_file");
    for (name, text) in test_vectors::suite::VECTOR_FILES {
        write(&vector_dir, name, text.as_bytes());
    }

    // expression: every distinct template and pattern with a term, and a few plain ones.
    let expression_dir = corpus("expression");
    let mut expressions = BTreeSet::new();
    for vector in suite.vectors() {
        for step in &vector.steps {
            if let Step::Apdu { apdu, data, .. } = step {
                expressions.insert(apdu.text().to_owned());
                if let Some(data) = data {
                    expressions.insert(data.text().to_owned());
                }
            }
        }
    }
    let mut by_function: HashMap<String, usize> = HashMap::new();
    for (i, text) in expressions.iter().enumerate() {
        // At most three of each function, so the corpus stays small but covers each.
        let key = text
            .split('{')
            .nth(1)
            .map(|t| t.split(['(', '}', ':']).next().unwrap_or("").to_owned())
            .unwrap_or_default();
        let seen = by_function.entry(key).or_default();
        *seen += 1;
        if *seen <= 3 {
            write(&expression_dir, &format!("{i:04}"), text.as_bytes());
        }
    }

    // vpcd_frame: what pcscd's vpcd sends for an SCardConnect, a transaction and a disconnect.
    let vpcd_dir = corpus("vpcd_frame");
    let frame = |payload: &[u8]| [&(payload.len() as u16).to_be_bytes()[..], payload].concat();
    let session = |apdus: &[&[u8]]| {
        let mut s = [frame(&[0x01]), frame(&[0x04])].concat();
        for apdu in apdus {
            s.extend(frame(apdu));
        }
        s.extend(frame(&[0x02]));
        s.extend(frame(&[0x04]));
        s.extend(frame(&[0x00]));
        s
    };
    let select_ssse_frame: &[u8] = &select_ssse;
    write(
        &vpcd_dir,
        "connect-select-read",
        &session(&[
            select_ssse_frame,
            &[0x00, 0xB2, 0x01, 0x2C, 0x00],
            &[0x00, 0xC0, 0x00, 0x00, 0x10],
        ]),
    );
    write(
        &vpcd_dir,
        "unknown-control-and-empty",
        &[
            frame(&[0x01]),
            frame(&[0x07]),
            frame(&[]),
            frame(&[0x00, 0x84, 0x00, 0x00, 0x08]),
        ]
        .concat(),
    );
    write(
        &vpcd_dir,
        "apdu-while-off",
        &[
            frame(&[0x00]),
            frame(&[0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00]),
        ]
        .concat(),
    );
    let mut truncated = session(&[&[0x00, 0xB0, 0x87, 0x00, 0x00]]);
    truncated.extend([0x01, 0x00, 0x00, 0xD6]);
    write(&vpcd_dir, "truncated", &truncated);
    let long: Vec<u8> = [
        &[0x00, 0xD6, 0x87, 0x00, 0x00, 0x04, 0x00][..],
        &[0xAB; 1024],
    ]
    .concat();
    write(
        &vpcd_dir,
        "extended-update",
        &session(&[&long, &[0x00, 0xB0, 0x87, 0x00, 0x00, 0x04, 0x00]]),
    );

    println!(
        "{} card sequences ({cut_seeds} with a power cut)",
        recorded.len()
    );
}
