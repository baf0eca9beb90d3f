"""The fixed English sentences the engine's intelligibility checks synthesize (shared by tests and bench).

Short, varied, everyday sentences with numbers, a date, money and an abbreviation, so that the
text normaliser is exercised too. Whisper's transcript is compared after both sides go through
`engine.wer`'s normalisation (numbers spelled out, punctuation dropped).
"""

SENTENCES = [
    "The weather is lovely today.",
    "Please close the door behind you.",
    "She bought three apples at the market.",
    "We will meet again next Monday morning.",
    "The bus leaves in 15 minutes.",
    "My brother lives in a small town.",
    "Can you help me carry these boxes?",
    "The coffee costs $3.50 at the corner shop.",
    "I have read that book twice.",
    "Turn left at the second traffic light.",
    "Dr. Brown works at the city hospital.",
    "The meeting was moved to 12/05.",
    "Children were playing in the park.",
    "He forgot his umbrella at home.",
    "Our flight was delayed by two hours.",
    "The river runs through the green valley.",
    "Thank you for calling our support line.",
    "Almost 40% of the tickets are sold.",
    "The kitchen smells of fresh bread.",
    "Write your name at the top of the page.",
]
