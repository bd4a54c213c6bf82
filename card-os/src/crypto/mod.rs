//! Block ciphers, MACs, hashes and key diversification used by the card (and by terminals).
