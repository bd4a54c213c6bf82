//! The card linked into a bare-metal image, to measure its flash and static RAM:
//! `cargo build --manifest-path card-os/footprint/Cargo.toml --release --target thumbv7em-none-eabi`,
//! then `llvm-size` on the result. The storage is memory-mapped non-volatile memory (not RAM), APDUs
//! arrive in a mailbox; on a host this example is an empty program.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod chip {
    use card_os::{Card, Storage, StorageError, MAX_RESPONSE};

    /// Non-volatile memory mapped at a fixed address (as EEPROM or data flash is on a chip).
    struct MappedStorage;

    const NVM_BASE: usize = 0x1000_0000;
    const NVM_SIZE: u32 = 64 * 1024;
    const MAILBOX: usize = 0x2000_F000;

    impl Storage for MappedStorage {
        fn capacity(&self) -> u32 {
            NVM_SIZE
        }
        fn read(&self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
            if offset as usize + buf.len() > NVM_SIZE as usize {
                return Err(StorageError::OutOfBounds);
            }
            for (i, byte) in buf.iter_mut().enumerate() {
                // SAFETY: the range was checked against the mapped memory.
                *byte = unsafe {
                    core::ptr::read_volatile((NVM_BASE + offset as usize + i) as *const u8)
                };
            }
            Ok(())
        }
        fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
            if offset as usize + data.len() > NVM_SIZE as usize {
                return Err(StorageError::OutOfBounds);
            }
            for (i, byte) in data.iter().enumerate() {
                // SAFETY: the range was checked against the mapped memory.
                unsafe {
                    core::ptr::write_volatile((NVM_BASE + offset as usize + i) as *mut u8, *byte)
                };
            }
            Ok(())
        }
    }

    #[no_mangle]
    pub extern "C" fn _start() -> ! {
        let Ok(mut card) = Card::power_on(MappedStorage) else {
            #[allow(clippy::empty_loop)]
            loop {}
        };
        let mut apdu = [0u8; 5 + 255];
        let mut response = [0u8; MAX_RESPONSE];
        let mut atr = [0u8; 33];
        let _ = card.atr(&mut atr);
        loop {
            for (i, byte) in apdu.iter_mut().enumerate() {
                // SAFETY: the mailbox is a fixed RAM window of the (imagined) chip's I/O block.
                *byte = unsafe { core::ptr::read_volatile((MAILBOX + i) as *const u8) };
            }
            let n = card.process(&apdu, &mut response);
            for (i, byte) in response.iter().take(n).enumerate() {
                // SAFETY: as above.
                unsafe { core::ptr::write_volatile((MAILBOX + 0x200 + i) as *mut u8, *byte) };
            }
            if apdu.first() == Some(&0xFF) {
                card.warm_reset();
            }
        }
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo) -> ! {
        #[allow(clippy::empty_loop)]
        loop {}
    }
}

#[cfg(not(target_os = "none"))]
fn main() {}
