const socket = io();
let username = '';
const joinBtn = document.getElementById('join-btn');
const sendBtn = document.getElementById('send-btn');
const usernameInput = document.getElementById('username-input');
const messageInput = document.getElementById('message-input');
const usernameModal = document.getElementById('username-modal');
const chatContainer = document.getElementById('chat-container');
const messagesContainer = document.getElementById('messages-container');
joinBtn.onclick = () => {
username = usernameInput.value.trim();
if (username) {
socket.emit('user-joined', username);
usernameModal.style.display = 'none';
chatContainer.style.display = 'flex';
}
};
sendBtn.onclick = () => {
const message = messageInput.value.trim();
if (message) {
socket.emit('send-message', message);
messageInput.value = '';
}
};
socket.on('receive-message', (data) => {
const div = document.createElement('div');
div.className = 'message';
div.textContent = `${data.username}: ${data.message}`;
messagesContainer.appendChild(div);
messagesContainer.scrollTop = messagesContainer.scrollHeight;
});
