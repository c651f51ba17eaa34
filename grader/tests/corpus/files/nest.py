# Makes nest/d/d/d/... 25,000 levels deep, walking down with relative paths.
import os

os.mkdir("nest")
os.chdir("nest")
for _ in range(25_000):
    os.mkdir("d")
    os.chdir("d")
