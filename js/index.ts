// The bundle's entry (attn_widget/static/widget.js): anywidget calls the default export's render;
// pages written by w.to_html call mountPage on their saved data. Nothing imports this file.
import { mountPage, renderWidget } from "./render";

// Named renderWidget, not render: anywidget warns about a named `render` export.
export default { render: renderWidget };

export { mountPage, renderWidget };
