/** The chat app's one page: log in or out, send a message, watch the reply stream in. It never sees the cookie. */
export const page = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>chat</title></head>
<body>
  <p id="who">…</p>
  <form id="login-form"><input id="user" placeholder="your name"> <button id="login">Log in</button></form>
  <button id="logout">Log out</button>
  <ol id="transcript"></ol>
  <form id="chat-form"><input id="message" placeholder="say something"> <button id="send">Send</button></form>
  <p id="reply"></p>
  <script>
    const $ = (id) => document.getElementById(id)
    const post = (path, body) => fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body ?? {})
    })
    async function render() {
      const me = await (await fetch("/api/me")).json()
      $("who").textContent = me.user === null ? "guest" : "logged in as " + me.user
      $("transcript").replaceChildren(...me.turns.map((turn) => {
        const item = document.createElement("li")
        item.className = turn.role
        item.textContent = turn.role + ": " + turn.text
        return item
      }))
      document.body.dataset.ready = String(me.turns.length)
    }
    $("login-form").onsubmit = async (event) => {
      event.preventDefault()
      await post("/api/login", { user: $("user").value })
      await render()
    }
    $("logout").onclick = async () => { await post("/api/logout"); await render() }
    $("chat-form").onsubmit = async (event) => {
      event.preventDefault()
      $("reply").textContent = ""
      const response = await post("/api/chat", { text: $("message").value })
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      for (let part = await reader.read(); !part.done; part = await reader.read()) $("reply").textContent += part.value
      await render()
    }
    render()
  </script>
</body>
</html>
`
