/* The Python driver, embedded so the sandbox never reads it from a host path.
 * The build passes -Isrc/runners so .incbin finds it. */
	.section .rodata
	.global python_driver_start
	.global python_driver_end
	.type python_driver_start, @object
python_driver_start:
	.incbin "python_driver.py"
python_driver_end:
	.byte 0
	.section .note.GNU-stack,"",@progbits
