print("stackgan")
