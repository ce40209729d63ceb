/* The analysts' page (web/), embedded so the server needs no install folder
 * and never sends a browser elsewhere. The build passes -Iweb so .incbin
 * finds the files. Each file gets NAME_text (NUL-terminated) and NAME_size,
 * a number, so C never subtracts pointers to two different symbols. */
.macro asset name, file
	.global \name\()_text
	.global \name\()_size
	.type \name\()_text, @object
	.balign 16
\name\()_text:
	.incbin "\file"
\name\()_end:
	.byte 0
	.balign 8
	.type \name\()_size, @object
\name\()_size:
	.quad \name\()_end - \name\()_text
.endm

	.section .rodata
	asset web_index_html, "index.html"
	asset web_app_css, "app.css"
	asset web_icon_svg, "icon.svg"
	asset web_api_js, "api.js"
	asset web_format_js, "format.js"
	asset web_highlight_js, "highlight.js"
	asset web_table_js, "table.js"
	asset web_meter_js, "meter.js"
	asset web_result_js, "result.js"
	asset web_run_js, "run.js"
	asset web_history_js, "history.js"
	asset web_datasets_js, "datasets.js"
	asset web_admin_js, "admin.js"
	asset web_main_js, "main.js"
	.section .note.GNU-stack,"",@progbits
