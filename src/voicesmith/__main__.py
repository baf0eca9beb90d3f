from voicesmith.client.cli import main

main()
