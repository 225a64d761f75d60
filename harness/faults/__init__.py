"""The fault timeline: apply and revert toxics and proxy state, always cleaned up."""
