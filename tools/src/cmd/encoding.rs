//! `--key-encoding` / `--value-encoding`: how a key or value given as text becomes
//! bytes, shared by the commands that take them.

use tusk_writer::Encoding;

/// The text encodings a command line accepts for keys and values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum EncodingArg {
    /// The text's own bytes.
    Utf8,
    /// Standard base64.
    Base64,
    /// Hexadecimal, two digits per byte.
    Hex,
}

impl From<EncodingArg> for Encoding {
    fn from(e: EncodingArg) -> Self {
        match e {
            EncodingArg::Utf8 => Encoding::Utf8,
            EncodingArg::Base64 => Encoding::Base64,
            EncodingArg::Hex => Encoding::Hex,
        }
    }
}
