//! The simulated SSC card (card-os's demo card) through the real PC/SC stack, read by programs no
//! one here wrote. Ignored by a plain `cargo test`: scripts/pcsc-tests.sh runs it with `--ignored`.

mod pcsc_support;

use card_os::testing::{DEMO_EF05, DEMO_EF06};
use host_tools::transport::image;
use host_tools::transport::sim::{MemoryStorage, SimTransport};
use host_tools::transport::vpcd::FIRST_SLOT_PORT;
use host_tools::transport::{CardTransport, TransportError};
use pcsc_support::*;

fn colon_hex(bytes: &[u8]) -> String {
    spaced_hex(bytes).replace(' ', ":")
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn opensc_tool_selects_ssse_and_reads_a_record_by_tag() {
    let _lock = ReaderLock::acquire();
    let _served = ServedCard::start(demo_sim(), FIRST_SLOT_PORT);
    wait_for_card(&context(), READER, true);
    // READ RECORD by tag 07 (card number) in EF05: P2 = SFI 5 << 3 | 00.
    let text = opensc_send(&[&colon_hex(&select_ssse()), "00:B2:07:28:00"]);
    assert_eq!(text.matches("SW1=0x90, SW2=0x00").count(), 2, "{text}");
    assert!(
        text.contains(&spaced_hex(DEMO_EF05[6])),
        "card number missing:\n{text}"
    );
    assert!(text.contains("X00000019"), "{text}");
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn scriptor_reads_ef05_and_ef06() {
    let _lock = ReaderLock::acquire();
    let _served = ServedCard::start(demo_sim(), FIRST_SLOT_PORT);
    wait_for_card(&context(), READER, true);
    let script = std::env::temp_dir().join(format!("sscard-ef05-ef06-{}.scr", std::process::id()));
    // SELECT SSSE, then record 1 of EF05 (SFI 5) and of EF06 (SFI 6) by number.
    std::fs::write(
        &script,
        format!(
            "{}\n00 B2 01 2C 00\n00 B2 01 34 00\n",
            spaced_hex(&select_ssse())
        ),
    )
    .unwrap();
    let output = run("scriptor", &["-r", READER, script.to_str().unwrap()]);
    let _ = std::fs::remove_file(&script);
    let text = stdout(&output);
    // scriptor exits 0 even on error status words: the output is what tells.
    let with_sw = |record: &[u8]| [record, &[0x90, 0x00]].concat();
    assert_eq!(
        scriptor_responses(&text),
        [
            vec![0x90, 0x00],
            with_sw(DEMO_EF05[0]),
            with_sw(DEMO_EF06[0])
        ],
        "{text}"
    );
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn a_record_written_through_pcsc_is_in_the_card_image_while_still_served() {
    let _lock = ReaderLock::acquire();
    let image = std::env::temp_dir().join(format!("sscard-served-{}.card", std::process::id()));
    SimTransport::create_image(&image, &demo_storage()).unwrap();
    let served = ServedCard::start(
        Box::new(SimTransport::open_image(&image).unwrap()),
        FIRST_SLOT_PORT,
    );
    let ctx = context();
    wait_for_card(&ctx, READER, true);
    let card = connect(&ctx, READER);
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
    let select = select_ssse();
    assert!(card
        .transmit(&select, &mut buf)
        .unwrap()
        .ends_with(&[0x90, 0x00]));
    // UPDATE RECORD 2 of EF05 (card type, tag 02) to '5'.
    let new_record = [0x02, 0x01, b'5'];
    let mut update = vec![0x00, 0xDC, 0x02, 0x2C, new_record.len() as u8];
    update.extend_from_slice(&new_record);
    assert_eq!(card.transmit(&update, &mut buf).unwrap(), [0x90, 0x00]);

    // The image on disk already has it, with the card still in the reader (as if killed now).
    // Reading the file needs no ownership; opening it as a card does, and the server has it.
    let refused = SimTransport::open_image(&image).err().unwrap();
    assert!(
        matches!(refused, TransportError::ImageInUse { .. }),
        "{refused:?}"
    );
    let mut copy =
        SimTransport::in_memory(MemoryStorage::from_bytes(image::load(&image).unwrap())).unwrap();
    assert!(copy.transmit(&select).unwrap().ends_with(&[0x90, 0x00]));
    let mut expected = new_record.to_vec();
    expected.extend_from_slice(&[0x90, 0x00]);
    assert_eq!(
        copy.transmit(&[0x00, 0xB2, 0x02, 0x2C, 0x00]).unwrap(),
        expected
    );
    drop(card);
    served.stop();
    let _ = std::fs::remove_file(&image);
}
