//! Tests of the whole authentication step.
