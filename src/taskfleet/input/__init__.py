"""Task files and bodies in, validated as a whole: nothing bad reaches the store.

``sources`` reads JSONL, JSON arrays, stdin and API bodies; ``fields``
checks the common fields; ``profile_apply`` applies a task's profile;
``field_names`` refuses fields a task's kind does not take (with the nearest
known name); ``taskfile`` turns objects into ``TaskSpec``s with each kind's
own check; ``job_checks`` makes the checks a kind cannot make alone (an llm
endpoint's key, an agent task's repository and base); ``dependencies``
checks ``depends_on`` across the whole input (unknown ids, cycles). Every
error names the file, the line and the field. May import: ``kinds`` (each
kind parses its own fields), ``config``, ``model``, ``errors``.
"""
