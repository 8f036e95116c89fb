from tests.browser.test_host_theme_in_chromium import widget
from tests.support.widget_page import cell_center, tooltip_text


def test_look(page, mount):
    page.emulate_media(color_scheme="dark")
    page.evaluate("() => { document.body.style.background = '#1b1b1b'; }")
    mount(widget(), width=760)
    page.mouse.move(*cell_center(page, "attn-heatmap", 3, 2))
    tooltip_text(page)
    page.screenshot(path="test-results/look-dark-auto.png")
