"""The AI Guide: a Socratic tutor chat. Pure decisions (tokens, limits, prompt, offline
provider, judging, signals, SSE) in their own modules; providers, the learner-context
adapter and the service are thin shells; the conversation's state lives in its Durable
Object (durable/chat_conversation.py)."""
