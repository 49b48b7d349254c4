"""ChatConversation: one object per conversation keeps the transcript in order and asks
the model with the recent turns (the local AI binding is a labelled stand-in)."""


async def test_a_conversation_keeps_its_turns_in_order_and_answers_from_the_model(host):
    stub = host.env.CHAT_CONVERSATIONS.getByName("conversation-1")
    first = await stub.ask("What is a fraction?")
    assert "What is a fraction?" in first["reply"] and first["reply"].startswith("[local AI stand-in")
    await stub.ask("And a decimal?")
    history = await stub.history()
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert [history[0]["content"], history[1]["content"], history[2]["content"]] == [
        "What is a fraction?", first["reply"], "And a decimal?"]
    assert "And a decimal?" in history[3]["content"]
    assert all(isinstance(m["at_ms"], int) for m in history)
    assert await host.env.CHAT_CONVERSATIONS.getByName("conversation-2").history() == []
