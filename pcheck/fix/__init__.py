"""`pcheck fix`'s editor: a document's links rewritten in place, exactly, and the files written safely."""
