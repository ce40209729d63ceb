/* The Python driver, embedded so the sandbox never reads it from a host path.
 * The build passes -Isrc/runners so .incbin finds it. The size is exported
 * as a number so C never subtracts pointers to two different symbols. */
	.section .rodata
	.global python_driver_text
	.global python_driver_size
	.type python_driver_text, @object
python_driver_text:
	.incbin "python_driver.py"
python_driver_end:
	.byte 0
	.balign 8
	.type python_driver_size, @object
python_driver_size:
	.quad python_driver_end - python_driver_text
	.section .note.GNU-stack,"",@progbits
