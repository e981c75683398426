/// Errors of the device crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// A device file could not be read, parsed or validated.
    #[error(transparent)]
    Config(#[from] aimsim_core::CoreError),
    /// No built-in device has this name.
    #[error("unknown device `{name}`; built-in devices: {known}")]
    UnknownDevice {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, DeviceError>;
