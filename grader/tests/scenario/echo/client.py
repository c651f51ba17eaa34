"""Connects to the echo server at SOCKET, sends `hello <N>`, prints the reply."""
import socket
import sys

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(sys.argv[1])
sock.sendall(f"hello {sys.argv[2]}".encode())
sock.shutdown(socket.SHUT_WR)
reply = b""
while True:
    chunk = sock.recv(4096)
    if not chunk:
        break
    reply += chunk
print(reply.decode())
