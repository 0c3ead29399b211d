"""LLM-as-judge (issue 14): a catalog model compares a finished comparison's panes, pair by pair
and in both orders, against a rubric; its answers are parsed into verdicts with LangChain.

``prompts`` builds what the judge reads, ``verdicts`` parses and combines what it answers,
``settle`` turns finished judge runs into stored verdicts, ``service`` starts and reads judgements.
"""
