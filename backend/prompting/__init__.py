"""The improved prompt (issue 14's feedback loop): a LangChain chain proposes a revised prompt
and system prompt from a finished comparison's outputs, votes and judge rationales; accepting
it runs the new version as a comparison linked to the old one as its next prompt version."""
