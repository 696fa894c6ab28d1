"""Descriptions of facial expressions for a MAT that starts from words (`mat_init="text"`), 16 per expression (the
paper's S), for DFEW's and FERV39k's seven classes and MAFW's eleven.

Written for this project from what the Facial Action Coding System and EMFACS give as each expression's movements
(Ekman, Friesen and Hager 2002; the action units, AU, are named in the comments): brows, lids, cheeks, nose, lips,
jaw. Anxiety, helplessness and disappointment, which EMFACS does not list, follow the same regions as described in
MAFW's own annotation guide (tension around the eyes and mouth, oblique brows, depressed lip corners). Each sentence
describes a face, so that CLIP's text tower reads it as a picture's caption; about half name the emotion.

`descriptions_for(labels)` maps a dataset's class names onto them (case and the field's spellings: Happy /
happiness, Angry / anger, Sad / sadness); a user's own file (`--mat_descriptions FILE.json`, class name -> list of
sentences) replaces them.
"""

import json
from pathlib import Path

EXPRESSIONS = {
    # AU6 cheek raiser + AU12 lip corner puller (the Duchenne smile); AU25 lips part
    "happiness": [
        "a photo of a happy face",
        "a face with cheeks raised and lip corners pulled up",
        "a smiling face with crow's feet wrinkles at the corners of the eyes",
        "a happy person smiling with the lower eyelids pushed up by the cheeks",
        "a face with a broad smile showing the upper teeth",
        "a joyful face with the mouth corners drawn back and up",
        "a laughing face with the lips parted and the cheeks lifted",
        "a face beaming with happiness, eyes narrowed by the smile",
        "a cheerful face with raised cheeks and a curved mouth",
        "a delighted person grinning widely",
        "a face with the nasolabial folds deepened by a smile",
        "a pleased face with relaxed brows and smiling lips",
        "a face showing happiness through smiling eyes and mouth",
        "a glad face with the lip corners turned upward",
        "a happy expression with bright eyes and a wide smile",
        "a face lit up with joy",
    ],
    # AU1 inner brow raiser + AU4 brow lowerer + AU15 lip corner depressor; AU17 chin raiser; drooping upper lids
    "sadness": [
        "a photo of a sad face",
        "a face with the inner corners of the eyebrows raised and drawn together",
        "a sad face with the lip corners pulled down",
        "a face with drooping upper eyelids and a downcast gaze",
        "a sorrowful face with a raised, wrinkled chin",
        "an unhappy person with an oblique slant to the eyebrows",
        "a face about to cry, lower lip trembling",
        "a face with teary eyes and a downturned mouth",
        "a gloomy face with slack cheeks and lowered eyes",
        "a face showing grief, brows pulled up in the middle",
        "a mournful face with the mouth corners sagging",
        "a face in sadness with the gaze lowered and the lips pressed",
        "a dejected person with a heavy, tired look",
        "a face with a pout and raised inner brows",
        "a sad expression with glistening eyes",
        "a face full of sorrow",
    ],
    # relaxed: no action units
    "neutral": [
        "a photo of a neutral face",
        "a calm face with relaxed brows, eyelids and lips",
        "an expressionless face looking straight ahead",
        "a face at rest with the mouth closed",
        "a blank face with no wrinkles on the forehead",
        "a person with a neutral, composed expression",
        "a face with level eyebrows and a relaxed jaw",
        "a still face showing no emotion",
        "a face with the lips together and the cheeks relaxed",
        "a serene face with open, relaxed eyes",
        "a plain face with a steady gaze",
        "a face with a straight mouth and smooth brows",
        "an impassive face",
        "a person with a poker face",
        "a relaxed, emotionless face",
        "a face with a neutral expression",
    ],
    # AU4 brow lowerer + AU5 upper lid raiser + AU7 lid tightener + AU23 lip tightener / AU24 lip presser
    "anger": [
        "a photo of an angry face",
        "a face with the eyebrows lowered and drawn together",
        "an angry face with a hard glare and tightened eyelids",
        "a face with vertical wrinkles between the brows",
        "a furious face with the lips pressed tightly together",
        "an angry person with flared nostrils and a clenched jaw",
        "a face shouting with the mouth open in a square shape",
        "a face with narrowed eyes and a tense mouth",
        "a frowning face with a fierce stare",
        "a face showing rage, teeth bared",
        "an irritated face with the lips thinned and tightened",
        "a face with lowered brows and raised upper eyelids",
        "a hostile face with a piercing look",
        "a face flushed with anger",
        "an annoyed person scowling",
        "a face full of anger",
    ],
    # AU1 + AU2 inner and outer brow raisers + AU5B upper lid raiser + AU26 jaw drop
    "surprise": [
        "a photo of a surprised face",
        "a face with the eyebrows raised high and curved",
        "a surprised face with wide open eyes",
        "a face with the jaw dropped and the mouth open",
        "an astonished face with horizontal wrinkles across the forehead",
        "a face with the upper eyelids raised, showing the whites of the eyes",
        "a startled person with an open, rounded mouth",
        "an amazed face with lifted brows and a slack jaw",
        "a face gasping in surprise",
        "a shocked face with eyes wide and brows up",
        "a face showing sudden surprise",
        "an astonished person staring with raised eyebrows",
        "a face with an O-shaped mouth and raised brows",
        "a stunned face with the mouth hanging open",
        "a face caught by surprise",
        "a face full of amazement",
    ],
    # AU9 nose wrinkler + AU10 upper lip raiser (+ AU15, AU16, AU17)
    "disgust": [
        "a photo of a disgusted face",
        "a face with the nose wrinkled and the upper lip raised",
        "a disgusted face with the lips curled",
        "a face with the nostrils pulled up and the cheeks raised",
        "a repulsed person turning away with a grimace",
        "a face with the lower lip pushed down and forward",
        "a face showing revulsion, eyes narrowed",
        "a face with wrinkles along the sides of the nose",
        "a grossed out face with the mouth twisted",
        "a face with lowered brows and a raised upper lip",
        "a face reacting to a bad smell",
        "a sickened face with the tongue slightly out",
        "a face in disgust with the chin pushed up",
        "a nauseated person wrinkling the nose",
        "a face showing distaste",
        "a face full of disgust",
    ],
    # AU1 + AU2 + AU4 brows raised and drawn together + AU5 + AU7 + AU20 lip stretcher + AU26
    "fear": [
        "a photo of a frightened face",
        "a face with the eyebrows raised and pulled together",
        "a fearful face with wide eyes and tense lower eyelids",
        "a face with the lips stretched horizontally",
        "a scared person with the mouth slightly open and tense",
        "a terrified face with the whites of the eyes showing",
        "a face with a worried forehead and raised brows",
        "an afraid face with the lip corners pulled back",
        "a face frozen in fear",
        "a horrified face with the jaw dropped",
        "a face with straight, raised brows and staring eyes",
        "a panicked person with a tense, stretched mouth",
        "a face showing fright, eyes wide open",
        "an anxious, fearful face drawn back",
        "a face in terror",
        "a face full of fear",
    ],
    # AU14 dimpler, one side: a lip corner tightened and raised
    "contempt": [
        "a photo of a contemptuous face",
        "a face with one lip corner tightened and raised",
        "a face with a smirk on one side of the mouth",
        "a scornful face looking down the nose",
        "a face with an asymmetric half smile",
        "a disdainful person with the head tilted back",
        "a face with one cheek dimpled by a tight lip corner",
        "a face showing disdain with narrowed eyes",
        "a sneering face",
        "a face with a superior, mocking look",
        "a face with an eye roll and a one-sided smile",
        "a dismissive face with pursed lips",
        "a face showing contempt",
        "a condescending person smirking",
        "a face with a cold, belittling look",
        "a face full of scorn",
    ],
    # tension around the eyes and mouth; brows raised and drawn together (AU1 + AU4); lip press or bite (AU24, AU32)
    "anxiety": [
        "a photo of an anxious face",
        "a face with tense, raised eyebrows drawn together",
        "a nervous face biting the lower lip",
        "a worried face with the lips pressed together",
        "an uneasy person with restless, darting eyes",
        "a face with a furrowed forehead and a tight mouth",
        "a tense face blinking quickly",
        "a face with tightened eyelids and a worried look",
        "a nervous person with a strained expression",
        "a face showing unease, gaze turned aside",
        "an apprehensive face with the jaw clenched",
        "a face with a forced, nervous smile",
        "a fretful face with the brows knitted",
        "a face under stress",
        "an anxious expression with tense cheeks",
        "a face full of worry",
    ],
    # oblique brows (AU1), lip corners down (AU15), lids lowered, mouth slightly open
    "helplessness": [
        "a photo of a helpless face",
        "a face with the inner brows raised and the eyes lowered",
        "a helpless face with the lip corners turned down",
        "a resigned person with a slack, open mouth",
        "a face with drooping eyelids and a lost look",
        "a face showing helplessness, brows slanted upward",
        "a defeated face with a weary gaze",
        "a face sighing in resignation",
        "a powerless person with a pleading look",
        "a face with a vacant stare and sagging cheeks",
        "a face giving up, head lowered",
        "a despairing face with raised inner brows",
        "a face with an exhausted, hopeless expression",
        "a face at a loss",
        "a helpless expression with the mouth corners drawn down",
        "a face full of resignation",
    ],
    # lip corners depressed (AU15), lips pressed (AU24), chin raised (AU17), eyes lowered
    "disappointment": [
        "a photo of a disappointed face",
        "a face with the lip corners pulled down and the lips pressed",
        "a disappointed face with the gaze lowered",
        "a let down person with a raised chin and a pout",
        "a face with a mild frown and downcast eyes",
        "a face showing disappointment, mouth turned down",
        "a dissatisfied face with a slight shake of the head",
        "a face with the brows slightly raised in the middle and the lips tight",
        "a disheartened person sighing",
        "a face with a sagging mouth and a dull look",
        "a crestfallen face",
        "a face with pursed lips and lowered eyelids",
        "a disillusioned face looking away",
        "a face with the corners of the mouth drooping",
        "a discouraged expression",
        "a face full of disappointment",
    ],
}

# The field's spellings of each expression's name (lower case).
ALIASES = {
    "happy": "happiness",
    "happiness": "happiness",
    "joy": "happiness",
    "sad": "sadness",
    "sadness": "sadness",
    "neutral": "neutral",
    "angry": "anger",
    "anger": "anger",
    "surprise": "surprise",
    "surprised": "surprise",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "contempt": "contempt",
    "anxiety": "anxiety",
    "anxious": "anxiety",
    "helplessness": "helplessness",
    "helpless": "helplessness",
    "disappointment": "disappointment",
    "disappointed": "disappointment",
}


def descriptions_for(labels, path=None) -> dict[str, list[str]]:
    """`{class name: sentences}` for a dataset's `labels`: the user's JSON file at `path` (class name -> list of
    sentences), or the built-in descriptions of each class's expression. `ValueError` naming a class that has none
    (give a file)."""
    if path is not None:
        try:
            given = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            raise ValueError(f"mat_descriptions file '{path}' cannot be read as JSON: {error}") from error
        if not isinstance(given, dict) or not all(
            isinstance(v, list) and v and all(isinstance(x, str) and x.strip() for x in v) for v in given.values()
        ):
            raise ValueError(
                f"mat_descriptions file '{path}' must map each class name to a non-empty list of sentences"
            )
        missing = [label for label in labels if label not in given]
        if missing:
            raise ValueError(f"mat_descriptions file '{path}' has no sentences for {missing}")
        return {label: given[label] for label in labels}
    unknown = [label for label in labels if label.lower() not in ALIASES]
    if unknown:
        raise ValueError(
            f"no built-in descriptions of {unknown} (built in: {', '.join(EXPRESSIONS)}): pass "
            f"--mat_descriptions FILE.json (class name -> list of sentences)"
        )
    return {label: EXPRESSIONS[ALIASES[label.lower()]] for label in labels}


__all__ = ["EXPRESSIONS", "ALIASES", "descriptions_for"]
