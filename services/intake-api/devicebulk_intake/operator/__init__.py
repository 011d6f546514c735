"""The operator's views of bulk changes: the list, the audit trail, the results as CSV, and the
two actions on a bulk change as a whole (retry its failed devices, cancel what has not run)."""
