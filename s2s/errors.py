"""The one exception s2s raises for code it cannot transform."""


class TransformError(Exception):
    """Raised when a function uses Python that s2s cannot transform.

    The message names the user's file, line and construct, and a rewrite when one exists.
    """

    def __init__(self, message, *, filename=None, lineno=None, function=None, construct=None,
                 suggestion=None):
        self.filename = filename
        self.lineno = lineno
        self.function = function
        self.construct = construct
        self.suggestion = suggestion
        where = ""
        if filename is not None:
            where = f"{filename}:{lineno}" if lineno is not None else f"{filename}"
            if function:
                where += f" in {function}"
            where += ": "
        text = where + message
        if construct:
            text += f"\n    {construct}"
        if suggestion:
            text += f"\n{suggestion}"
        super().__init__(text)
