# A syntax error is a runtime_error carrying Python's message and line.
# status: runtime_error
# stderr-has: SyntaxError
# stderr-has: line 6
print("unreachable")
def broken(:
    pass
