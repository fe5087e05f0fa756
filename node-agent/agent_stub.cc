namespace gc {}
