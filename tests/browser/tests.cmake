# Reader-facing pages in Debian's Chromium, driven by playwright-core
# (scripts/setup.sh runs `npm install` in tests/browser).
mailer_script_test(browser.pages browser/test_pages.mjs LABELS browser TIMEOUT 240)
