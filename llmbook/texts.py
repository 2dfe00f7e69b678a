"""Small texts the book writes itself: the rhyme of the article and a corpus for a BPE demo.

Used from chapter 3 ("Generating text one character at a time") on. The nursery rhymes are
traditional and in the public domain; they are written here in their usual modern form.
`.lower()` any of them for the article's a=1 ... z=26 alphabet.
"""

from __future__ import annotations

HUMPTY = "humpty dumpty sat on a wall"
"""The article's running example: 27 characters, all lower case letters and spaces."""

NURSERY_RHYMES: dict[str, str] = {
    "humpty dumpty": (
        "Humpty Dumpty sat on a wall,\n"
        "Humpty Dumpty had a great fall.\n"
        "All the king's horses and all the king's men\n"
        "Couldn't put Humpty together again.\n"
    ),
    "jack and jill": (
        "Jack and Jill went up the hill\n"
        "To fetch a pail of water.\n"
        "Jack fell down and broke his crown,\n"
        "And Jill came tumbling after.\n"
    ),
    "twinkle twinkle": (
        "Twinkle, twinkle, little star,\n"
        "How I wonder what you are!\n"
        "Up above the world so high,\n"
        "Like a diamond in the sky.\n"
        "Twinkle, twinkle, little star,\n"
        "How I wonder what you are!\n"
    ),
    "hey diddle diddle": (
        "Hey diddle diddle,\n"
        "The cat and the fiddle,\n"
        "The cow jumped over the moon;\n"
        "The little dog laughed\n"
        "To see such sport,\n"
        "And the dish ran away with the spoon.\n"
    ),
    "baa baa black sheep": (
        "Baa, baa, black sheep,\n"
        "Have you any wool?\n"
        "Yes, sir, yes, sir,\n"
        "Three bags full;\n"
        "One for the master,\n"
        "And one for the dame,\n"
        "And one for the little boy\n"
        "Who lives down the lane.\n"
    ),
}
"""Five short rhymes, title -> text (lines end with a newline)."""

CAT_CORPUS = (
    "the cat sat on the mat. the cat saw the dog. the dog saw the cat. "
    "my cat likes your dog and your dog likes my cat. "
    "one cat, two cats. one dog, two dogs. one rat, two rats. one hat, two hats. "
    "a cat in a hat. cats in hats. a dog on a mat. dogs on mats. "
    "the cat chased a rat. the cats chased the rats. the dog chased the cat. "
    "the dogs chased the cats. a big cat and a small dog. big cats and small dogs. "
    "the cat naps. the dog naps. cats and dogs nap in the sun."
)
"""Short sentences rich in "cat"/"cats" and "dog"/"dogs", for a BPE that learns "cat" + "s".

With the default chunking, BPE vocabularies of 260 to 269 tokens split " cats" into " cat" + "s"
(and, from 265, " dogs" into " dog" + "s"); at 270 " cats" becomes one token, and 64 merges
(vocabulary 320, the most this text allows) make every chunk (a word with its leading space, or
a punctuation mark) a single token."""
