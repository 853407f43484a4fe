"""Free text -> taxonomy skills with evidence: phrases, the linker, the link cache."""
