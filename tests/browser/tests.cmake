# Reader-facing pages in Debian's Chromium, driven by playwright-core
# (scripts/setup.sh runs `npm install` in tests/browser).
mailer_script_test(browser.pages browser/test_pages.mjs LABELS browser TIMEOUT 240)
# The share, digest and confirmation mails as a mail client shows them, at
# 320, 390, 800 and 1280 px: no horizontal scrolling, images inside the
# viewport, contrast; screenshots in artifacts/mail-*.png.
mailer_script_test(browser.mails browser/test_mails.mjs LABELS browser TIMEOUT 240)
# The public pages' refusals on a phone (each one in Vietnamese beside its
# field, marked and focused, a summary at the top), the share form's first
# screen and "Thêm người nhận" without JavaScript, a second submit of one
# form making one share; screenshots at 390 and 1280 px.
mailer_script_test(browser.errors browser/test_errors.mjs LABELS browser TIMEOUT 300)
# The web admin in Chromium: the editors' flow with the mouse and with the
# keyboard only, axe-core on every page, screenshots at 390 and 1280 px.
mailer_script_test(browser.admin browser/test_admin.mjs LABELS browser TIMEOUT 600)
