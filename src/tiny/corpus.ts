/**
 * A small built-in English corpus (original sentences, a few KB) for training the tiny tokenizers that the
 * project's `make-tiny` checkpoints ship with. Its topics follow what the tiny multimodal fixtures talk about:
 * shapes, colours, counting, images, sounds, documents, numbers, and chat-style questions and answers.
 * Nothing is downloaded; edit freely, but note that any change changes every tiny tokenizer built from it.
 */

/** Paragraphs of plain text, one topic each. */
export const TINY_CORPUS: readonly string[] = [
  // Shapes and colours.
  'The red circle is next to the blue square. A green triangle sits above the yellow star.',
  'There is a small white square in the corner of the picture, and a large black circle in the middle.',
  'The orange rectangle is wider than it is tall. The purple diamond points up and down.',
  'Colours in this image: red, green, blue, yellow, orange, purple, pink, brown, grey, black and white.',
  'A circle has no corners. A triangle has three corners. A square has four equal sides.',
  'The shape on the left is a blue circle. The shape on the right is a red triangle.',
  'Is the star yellow or gold? It looks yellow to me, with a thin orange border.',
  // Counting and numbers.
  'One, two, three, four, five, six, seven, eight, nine, ten.',
  'There are 3 circles, 2 squares and 1 triangle, so there are 6 shapes in total.',
  'Count the dots: there are seven dots in the first row and five dots in the second row.',
  'The numbers 0 1 2 3 4 5 6 7 8 9 are digits. 12 is twelve, 20 is twenty, and 100 is one hundred.',
  'Add 4 and 5 to get 9. Take 3 from 10 to get 7. Half of 8 is 4, and double 6 is 12.',
  'The image is 32 by 32 pixels. Each pixel has three values: red, green and blue, from 0 to 255.',
  'In 2024 the meeting was on the 3rd of May at 10:30, in room 42.',
  // Images.
  'This image shows a cat sitting on a wooden chair near a window.',
  'The photo was taken outside on a sunny day. The sky is clear and the grass is bright green.',
  'In the picture, a dog is running across the beach toward the water.',
  'Describe the image in one sentence. The image shows two birds on a branch.',
  'What is in this picture? I can see a table, a lamp, a book and a cup of tea.',
  'The drawing has a house with a red roof, a tree, and the sun in the top left corner.',
  'The image is dark and blurry, so it is hard to tell what the object is.',
  // Sounds.
  'The audio clip is a short tone at 440 hertz that lasts for one second.',
  'I can hear a dog barking, then a car horn, and then birds singing.',
  'The sound starts quiet and gets louder. It is a low hum, like a fan.',
  'Listen to the recording and write down what the speaker says.',
  'The speaker says: hello, my name is Sam, and I like music and long walks.',
  'The song has a slow beat and a soft piano melody.',
  // Documents.
  'The document is a short report about the weather in the spring.',
  'Summarize the document: it explains how to plant seeds and water them every day.',
  'The first page has a title, the second page has a table of numbers, and the last page has a list.',
  'According to the text, the library opens at nine in the morning and closes at six in the evening.',
  'The letter asks the reader to reply before Friday with their answer.',
  'Chapter one introduces the main idea. Chapter two gives examples. Chapter three ends the story.',
  // Questions and answers.
  'Question: What colour is the circle? Answer: The circle is red.',
  'Question: How many squares are there? Answer: There are two squares.',
  'Question: Where is the triangle? Answer: The triangle is at the top of the image.',
  'Question: What does the sound remind you of? Answer: It sounds like rain on a roof.',
  'Question: Is the document long? Answer: No, it is only one page.',
  'Q: Which shape is the biggest? A: The blue square is the biggest shape.',
  'Why is the sky blue? Because air scatters blue light more than red light.',
  // Chat phrasing.
  'Hello! How can I help you today?',
  'Hi, can you tell me what is in this image?',
  'Sure. The image shows a red circle and a blue square on a white background.',
  'Thank you, that is very helpful. Can you also describe the sound?',
  "You're welcome. The sound is a short beep, followed by silence.",
  "I'm not sure I understand. Could you explain it again in simpler words?",
  "Of course. Let's go step by step. First, look at the shapes. Then, count them.",
  'The user asks a question and the assistant gives a short, clear answer.',
  'You are a helpful assistant. Answer the question about the image, the audio or the document.',
  "I don't know the answer, but I can guess: it might be a small green box.",
  "Great, thanks! That's all for now. Goodbye!",
  'Please answer with a single word: yes or no.',
  // Mixed text with punctuation, quotes, code-like and multi-line content.
  'She said, "The square is blue," and he replied, "No, it is green."',
  'Lists are useful:\n- a red circle\n- a blue square\n- a green triangle\n',
  'Line one of the note.\nLine two of the note.\n\nA new paragraph starts here.',
  'The file name is shapes_01.png and its size is 4 KB (4096 bytes).',
  'Temperatures today: low of 12 C, high of 21 C; tomorrow will be warmer.',
  'Use the <image> token to show where the picture goes, and the <sound> token for audio.',
  'A vector such as [0.5, -1.25, 3.0] can describe the state of a game.',
];
