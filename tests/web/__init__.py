"""Browser tests of the operator dashboard (Playwright driving Debian's Chromium)."""
