"""The browser demo: what it computes (no browser), its API (gradio_client) and its page (headless Chromium)."""
