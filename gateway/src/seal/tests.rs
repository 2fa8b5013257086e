//! Stream-level tests of the sealer and opener.
