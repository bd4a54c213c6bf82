//! Why an expression could not be evaluated: shared by the expressions ([`crate::expr`]) and the
//! facts they read ([`crate::facts`]), so that neither imports the other both ways.

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The target cannot provide what the expression needs (e.g. the holder of a real card): the
    /// vector is skipped, not failed.
    #[error("{0}")]
    Unavailable(String),
    /// The expression itself is wrong (a vector error, not the card's).
    #[error("{0}")]
    Invalid(String),
}
