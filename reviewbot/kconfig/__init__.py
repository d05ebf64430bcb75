"""Kconfig evaluation with kconfiglib: compatibility layer, overlay loading, facts."""
