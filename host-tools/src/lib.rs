//! sscard host toolkit: transports, client layer, operations.
